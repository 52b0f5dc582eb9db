/**
 * Test helpers shared by every workspace's tests (imported as `@cns/service-kit/testing`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

const installHints: Record<string, string> = {
  nginx: 'apt-get install -y nginx',
  chromium: 'apt-get install -y chromium',
  prometheus: 'apt-get install -y prometheus',
  promtool: 'apt-get install -y prometheus',
  kubectl: 'see https://kubernetes.io/docs/tasks/tools/',
};

/** Absolute path of an executable on PATH (or at an absolute path), or undefined. */
export function findExecutable(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v "$0"`, name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `describe` that runs only when `tool` is installed. When it is missing the suite is skipped and its title
 * says why and how to install it, so the test runner's skip list explains itself.
 */
export function describeWithTool(tool: string, title: string, body: () => void): void {
  if (findExecutable(tool)) {
    describe(title, body);
  } else {
    const hint = installHints[tool] ? ` (install: ${installHints[tool]})` : '';
    describe.skip(`${title} [needs ${tool}, not installed${hint}]`, body);
  }
}

export interface SpawnedProcess {
  child: import('node:child_process').ChildProcess;
  /** Every stdout line so far. */
  stdoutLines: string[];
  /** All stderr text so far. */
  stderr(): string;
  /** Resolves with the first stdout line (current or future) that satisfies `predicate`; rejects on exit or timeout. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
}

/**
 * Spawns a Node process for a test and follows its output line by line, so tests wait for events the
 * process reports (`listening`, ...) rather than for fixed times. `tsx: true` runs a TypeScript file directly.
 */
export function spawnNode(script: string, options: { env?: NodeJS.ProcessEnv; tsx?: boolean; args?: string[] } = {}): SpawnedProcess {
  // Loaded lazily: this module is also imported by suites that never spawn anything.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const nodeArgs = [...(options.tsx ? ['--import', 'tsx'] : []), script, ...(options.args ?? [])];
  const child = spawn(process.execPath, nodeArgs, {
    env: { ...process.env, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdoutLines: string[] = [];
  let stderrText = '';
  const waiters = new Set<() => void>();
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    stdoutLines.push(...parts);
    for (const notify of waiters) notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderrText += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      for (const notify of waiters) notify();
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    for (const notify of waiters) notify();
  });

  const waitForLine = (predicate: (line: string) => boolean, timeoutMs = 25_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = stdoutLines.find(predicate);
        if (found !== undefined) return finish(() => resolve(found));
        if (hasExited) {
          return finish(() => reject(new Error(`process exited before the expected line; stderr: ${stderrText}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${stdoutLines.join('\n')}; stderr: ${stderrText}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  return { child, stdoutLines, stderr: () => stderrText, waitForLine, exited };
}

/**
 * Polls `check` until it returns a value other than undefined and resolves with that value; rejects naming `what`
 * once `timeoutMs` has passed. The one poll loop of the repository's tests: they wait for a condition with a bound,
 * never for a fixed time.
 */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition', intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** {@link eventually} for a condition: resolves once it holds, rejects naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', intervalMs = 20): Promise<void> {
  await eventually(async () => ((await condition()) ? true : undefined), timeoutMs, what, intervalMs);
}

/** Parses a JSON log line, or returns undefined for anything else. */
export function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for the `listening` log line of a process started with {@link spawnNode} and returns its port. */
export async function waitForListening(proc: SpawnedProcess, timeoutMs?: number): Promise<number> {
  const line = await proc.waitForLine((l) => parseLogLine(l)?.msg === 'listening', timeoutMs);
  return Number(parseLogLine(line)!.port);
}

/** True while a process with this pid exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while the process exists and is not a zombie (an exited child its parent has not reaped yet). */
export function processRunning(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return processExists(pid); // no /proc (not Linux), or the process ended meanwhile
  }
}

/** The given pids and all their descendants, read from /proc (Linux; elsewhere just the given pids). */
export function withDescendants(pids: readonly number[]): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the ppid is the second field after the last ')'.
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const all = new Set(pids);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (all.has(ppid) && !all.has(pid)) {
        all.add(pid);
        grew = true;
      }
    }
  }
  return [...all];
}

/**
 * playwright-core launch options for Debian's `chromium`: no sandbox (tests run as root in CI) and none of the
 * background networking that this machine's closed network would refuse.
 */
export function chromiumLaunchOptions(): { executablePath: string; args: string[] } {
  return {
    executablePath: findExecutable('chromium') ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  };
}

/**
 * The range a Binomial(n, p) count stays in with `sigmas` standard deviations either side of n·p (4 σ: a false
 * alarm in about 1 of 16,000 runs; the developers' guide asks for at least 3.5). `p` comes from the configuration
 * under test (a weight, a percentage), never from the observed counts.
 */
export function binomialBounds(n: number, p: number, sigmas = 4): { expected: number; low: number; high: number } {
  const expected = n * p;
  const spread = sigmas * Math.sqrt(n * p * (1 - p));
  return { expected, low: expected - spread, high: expected + spread };
}

/** Why {@link withNetworkNamespace} cannot run here (not root, no iproute2), or undefined when it can. */
export function networkNamespaceUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace';
  if (!findExecutable('ip')) return 'needs `ip` (install: apt-get install -y iproute2)';
  return undefined;
}

export interface NetworkNamespace {
  /** This machine's end of the veth pair: a server listening here is reachable from the namespace. */
  hostAddress: string;
  /** The namespace's own address: what a server here sees as the client's address. */
  clientAddress: string;
  /** Runs a program inside the namespace. */
  exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Gives `body` a fresh network namespace joined to this one by a veth pair with its own /30, so a test can
 * reach a server from a real non-loopback client address on any machine (no second interface needed).
 * Removed afterwards. Needs root and iproute2 (see {@link networkNamespaceUnavailable}).
 */
export async function withNetworkNamespace<T>(body: (ns: NetworkNamespace) => Promise<T>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily like spawnNode's
  const { execFile } = require('node:child_process') as typeof import('node:child_process');
  const id = `${process.pid % 100_000}`;
  const name = `cns-test-${id}`;
  const hostEnd = `cnsh${id}`; // interface names have at most 15 characters
  // 10.233.0.0/16 split into /30 networks, one per test process.
  const slot = process.pid % 16_384;
  const prefix = `10.233.${slot >> 6}`;
  const hostAddress = `${prefix}.${(slot & 63) * 4 + 1}`;
  const clientAddress = `${prefix}.${(slot & 63) * 4 + 2}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const cleanUp = () => {
    for (const args of [
      ['netns', 'del', name],
      ['link', 'del', hostEnd],
    ]) {
      try {
        ip(...args);
      } catch {
        // already gone (deleting the namespace removes the pair)
      }
    }
  };
  cleanUp();
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'cnsc', 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('-n', name, 'addr', 'add', `${clientAddress}/30`, 'dev', 'cnsc');
    ip('-n', name, 'link', 'set', 'cnsc', 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    const exec = (file: string, args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('ip', ['netns', 'exec', name, file, ...args], { encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr });
        });
      });
    return await body({ hostAddress, clientAddress, exec });
  } finally {
    cleanUp();
  }
}
