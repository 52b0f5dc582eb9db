// CPU and memory of one process from /proc (Linux): CPU = (utime + stime) ticks over wall time, RSS from
// /proc/<pid>/status, sampled every 250 ms while a load runs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export const canSample = (pid) => fs.existsSync(`/proc/${pid}/stat`);

/** Starts sampling `pids` (summed); `stop()` returns { cpuSeconds, cpuCores, rssMbMax, rssMbMean } over the window. */
export function sampleProcesses(pids) {
  const alive = pids.filter(canSample);
  const started = process.hrtime.bigint();
  const ticks0 = alive.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const rss = [];
  const take = () => {
    try {
      rss.push(alive.reduce((sum, pid) => sum + rssKb(pid), 0));
    } catch {
      /* a process went away: keep the samples so far */
    }
  };
  take();
  const timer = setInterval(take, 250);
  return {
    stop() {
      clearInterval(timer);
      take();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let ticks1 = ticks0;
      try {
        ticks1 = alive.reduce((sum, pid) => sum + cpuTicks(pid), 0);
      } catch {
        /* gone */
      }
      const mb = (kb) => Number((kb / 1024).toFixed(1));
      return {
        cpuSeconds: (ticks1 - ticks0) / clockTicks(),
        cpuCores: Number(((ticks1 - ticks0) / clockTicks() / seconds).toFixed(3)),
        rssMbMax: mb(Math.max(...rss)),
        rssMbMean: mb(rss.reduce((a, b) => a + b, 0) / rss.length),
      };
    },
  };
}

export function rssMb(pid) {
  return Number((rssKb(pid) / 1024).toFixed(1));
}
