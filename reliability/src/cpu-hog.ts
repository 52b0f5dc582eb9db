/**
 * A busy core beside the stack, as a laptop doing something else has (issue 25): one process spinning in a loop,
 * started and stopped by the test. Bounded twice: the test stops it, and it ends by itself after `maxMs` even if the
 * test process dies without stopping it.
 */
import { spawn } from 'node:child_process';

export interface CpuHog {
  pid: number;
  stop(): Promise<void>;
}

export async function startCpuHog(maxMs: number): Promise<CpuHog> {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${Math.round(maxMs)}; while (Date.now() < end) {}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
