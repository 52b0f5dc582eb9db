/**
 * Runs every replica of every workload as a child process, kubelet-style: readiness probes decide whether an
 * endpoint gets traffic, a crashed process restarts with exponential back-off (CrashLoopBackOff), and stopping
 * sends SIGTERM, then SIGKILL after a deadline. Children stay in the mesh's process group and are killed
 * synchronously when the mesh process exits, so they cannot outlive it.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Endpoint } from '../model';
import { freePort } from '../net';
import { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff';
import { Prober } from './prober';
import { type ProbePolicy, defaultProbe } from './probes';
import { Replica, type ReplicaState } from './replica';
import type { WorkloadSpec } from './topology';

export { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff';
export { type ProbePolicy, type ProbeSchedule, defaultProbe, KUBERNETES_PROBE_DEFAULTS } from './probes';

export type { ReplicaState } from './replica';

export interface EndpointStatus {
  id: string;
  workload: string;
  app: string;
  version: string;
  host: string;
  port: number;
  pid: number | undefined;
  ready: boolean;
  restarts: number;
  state: ReplicaState;
}

export interface SupervisorOptions {
  root: string;
  /** Environment the mesh adds for a workload (its sidecar proxy URL). */
  meshEnv: (spec: WorkloadSpec) => Record<string, string>;
  probe?: Partial<ProbePolicy>;
  backoff?: Partial<BackoffPolicy>;
  /** SIGTERM → SIGKILL deadline; default: the Deployment's terminationGracePeriodSeconds. */
  stopTimeoutMs?: number;
  /**
   * Rolling restart: how long a replica stays out of the endpoints before its SIGTERM. Default: the Deployment's
   * SHUTDOWN_DELAY_MS (the mesh sets the process's own to 0 and waits here instead, out of the endpoints, as
   * Kubernetes endpoint propagation plus the app's delay would), else 1000 ms.
   */
  endpointPropagationMs?: number;
  /** One line of a child's output. */
  output?: (endpointId: string, line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Workloads whose stdout goes straight to this process's stdout (the same file description, inherited): the
   * supervisor never reads or relays those lines, so a busy service's log costs the proxying thread nothing. Their
   * lines carry the replica in the JSON field `pod` (service-kit's logger, from POD_NAME) instead of a prefix.
   * stderr stays piped and relayed (start-up failures, crashes). Default: none (every line relayed).
   */
  inheritStdout?: (workload: string) => boolean;
  /** The supervisor's own messages (restarts, probe failures). */
  log?: (message: string) => void;
  /** Picks the port of a replica whose command has `port: 'assigned'`; default {@link freePort} (tests inject one). */
  pickPort?: () => Promise<number>;
}

const OUTPUT_TAIL_LINES = 20;
/** Consecutive starts on a fresh port after a bind failure, before it counts as a crash (back-off). */
export const MAX_PORT_RETRIES = 5;
/** A line saying the port was taken: Node's EADDRINUSE, nginx's bind() failure, PostgreSQL's "could not bind". */
const BIND_FAILURE = /EADDRINUSE|address already in use|could not bind/i;

export class Supervisor extends EventEmitter {
  private readonly replicas: Replica[] = [];
  private endpointView: readonly Endpoint[] = [];
  private readonly nextIndex = new Map<string, number>();
  private readonly probe: ProbePolicy;
  private readonly backoff: BackoffPolicy;
  private readonly prober: Prober;
  private readonly pickPort: () => Promise<number>;
  private stopping = false;
  private readonly killOnExit = (): void => {
    for (const replica of this.replicas) {
      if (replica.child?.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
    }
  };

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.setMaxListeners(0);
    this.probe = { ...defaultProbe, ...options.probe };
    this.prober = new Prober(this.probe, {
      log: (message) => this.options.log?.(message),
      changed: () => this.emit('change'),
      restart: (replica, child) => this.killForRestart(replica, child),
    });
    this.backoff = { ...defaultBackoff, ...options.backoff };
    this.pickPort = options.pickPort ?? freePort;
    process.on('exit', this.killOnExit);
  }

  /** Every replica, ready or not: the data plane's live endpoint view (same array until membership changes). */
  endpoints(): readonly Endpoint[] {
    return this.endpointView;
  }

  status(): EndpointStatus[] {
    return this.replicas.map((r) => ({
      id: r.id,
      workload: r.spec.workload.name,
      app: r.spec.workload.app,
      version: r.spec.workload.version,
      host: r.endpoint.host,
      port: r.endpoint.port,
      pid: r.child?.pid,
      ready: r.endpoint.ready,
      restarts: r.restarts,
      state: r.state,
    }));
  }

  /** The last lines a replica printed (for start-up error messages). */
  outputTail(endpointId: string): string[] {
    return [...(this.replicas.find((r) => r.id === endpointId)?.tail ?? [])];
  }

  /** Starts all replicas of a workload and waits until each is ready. */
  async startWorkload(spec: WorkloadSpec): Promise<void> {
    const file = path.resolve(this.options.root, spec.command.requires.file);
    if (!existsSync(file)) {
      throw new Error(`cannot start ${spec.workload.name}: ${spec.command.requires.file} is missing (${spec.command.requires.buildHint})`);
    }
    const started = await Promise.all(Array.from({ length: spec.workload.replicas }, () => this.startReplica(spec)));
    await Promise.all(started.map((replica) => this.waitReady(replica)));
  }

  /**
   * Rolling restart, one replica at a time: start a new replica, wait until it is available (ready, and still ready
   * after the Deployment's minReadySeconds), take the old one out of the endpoints (not ready), then SIGTERM it so
   * it drains its in-flight requests.
   */
  async restartWorkload(name: string): Promise<void> {
    const old = this.replicas.filter((r) => r.spec.workload.name === name && r.state !== 'stopping');
    if (old.length === 0) throw new Error(`no workload named "${name}"`);
    for (const replica of old) {
      if (replica.spec.stateful) {
        // A StatefulSet pod is replaced, not surged: the old one stops (its data folder is free again), then its
        // successor with the same name starts and becomes ready.
        await this.stopReplica(replica);
        const successor = await this.startReplica(replica.spec, replica.id);
        await this.waitReady(successor);
        this.options.log?.(`restarted ${replica.id}`);
        continue;
      }
      const fresh = await this.startReplica(replica.spec);
      await this.waitAvailable(fresh);
      // Out of the endpoints first, SIGTERM a moment later: requests already sent to the old replica (on the
      // wire, not yet read by a busy process) reach it and drain, instead of being cut when it closes its
      // idle keep-alive connections on SIGTERM. 'stopping' also ends its readiness probes (a passing probe
      // would put it back).
      replica.state = 'stopping';
      this.prober.stop(replica);
      replica.endpoint.ready = false;
      this.emit('change');
      const declaredDelay = Number(replica.spec.env.SHUTDOWN_DELAY_MS);
      const propagationMs = this.options.endpointPropagationMs ?? (Number.isFinite(declaredDelay) && declaredDelay > 0 ? declaredDelay : 1000);
      await new Promise((resolve) => setTimeout(resolve, propagationMs));
      await this.stopReplica(replica);
      this.options.log?.(`rolled ${replica.id} → ${fresh.id}`);
    }
  }

  /**
   * From now on an exiting process is not restarted. Called synchronously when shutdown begins: on Ctrl-C the
   * terminal signals the children too, and their exits must not look like crashes.
   */
  beginShutdown(): void {
    this.stopping = true;
  }

  /** Stops every replica: SIGTERM, then SIGKILL after the deadline. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.replicas.map((r) => this.stopReplica(r)));
    this.prober.destroy();
    process.removeListener('exit', this.killOnExit);
  }

  private async startReplica(spec: WorkloadSpec, id?: string): Promise<Replica> {
    const name = spec.workload.name;
    const index = this.nextIndex.get(name) ?? 0;
    if (id === undefined) this.nextIndex.set(name, index + 1);
    // A reporting child binds port 0 itself (nothing can take its port between a pick and its bind); the others
    // get a port picked here, and a fresh one if it was taken before they bound it (onProcessGone).
    const port = spec.command.port === 'reported' ? 0 : await this.pickPort();
    const replica = new Replica(spec, { id: id ?? `${name}-${index}`, workload: spec.workload, host: '127.0.0.1', port, ready: false });
    this.replicas.push(replica);
    this.refreshView();
    this.spawnProcess(replica);
    return replica;
  }

  private spawnProcess(replica: Replica): void {
    const { spec } = replica;
    const [command, ...args] = spec.command.argv;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...spec.command.env,
      ...spec.env,
      ...this.options.meshEnv(spec),
      PORT: String(replica.endpoint.port),
      HOST: '127.0.0.1',
      NO_PROXY: '',
      no_proxy: '',
      SHUTDOWN_DELAY_MS: '0',
      MESH_SUPERVISED: '1',
      POD_NAME: replica.id,
    };
    replica.state = 'starting';
    replica.everReady = false;
    this.prober.reset(replica);
    replica.startedAt = Date.now();
    replica.bindFailure = undefined;
    // A restarted reporting child asks for its old port again (PORT above), and reports it like any other. A child
    // that confirms its assigned port is probed only once it has said it bound it.
    const reporting = spec.command.port === 'reported' || spec.command.confirmsPort === true;
    replica.portKnown = !reporting;
    const child = spawn(command === 'node' ? process.execPath : command, args, {
      cwd: path.resolve(this.options.root, spec.command.cwd),
      env,
      // The IPC channel is how a child notices that the mesh died without stopping it (see service-kit's
      // runServer and MESH_SUPERVISED): it closes whenever this process goes away, even on SIGKILL.
      stdio: ['ignore', this.options.inheritStdout?.(spec.workload.name) ? 'inherit' : 'pipe', 'pipe', 'ipc'],
    });
    replica.child = child;
    child.on('message', (message: unknown) => {
      if (replica.child !== child) return;
      const report = message as { type?: unknown; port?: unknown; code?: unknown; message?: unknown } | null;
      if (report?.type === 'listening' && reporting && isPort(report.port) && !replica.portKnown) {
        replica.endpoint.port = report.port;
        if (replica.movedFrom !== undefined) this.options.log?.(`${replica.id} now listens on port ${report.port} (was ${replica.movedFrom})`);
        replica.movedFrom = undefined;
        replica.portKnown = true;
        this.prober.start(replica);
        this.emit('change');
      } else if (report?.type === 'listen-failed' && report.code === 'EADDRINUSE') {
        replica.bindFailure = typeof report.message === 'string' ? report.message : 'EADDRINUSE';
      }
    });
    const lines = (stream: NodeJS.ReadableStream, kind: 'stdout' | 'stderr'): Promise<void> => {
      const reader = readline.createInterface({ input: stream, crlfDelay: Infinity });
      reader.on('line', (line) => {
        if (replica.child === child && replica.bindFailure === undefined && BIND_FAILURE.test(line)) replica.bindFailure = line.trim().slice(0, 200);
        replica.tail.push(line);
        if (replica.tail.length > OUTPUT_TAIL_LINES) replica.tail.shift();
        this.options.output?.(replica.id, line, kind);
      });
      return new Promise((resolve) => reader.once('close', () => resolve()));
    };
    const outputDone = Promise.all([child.stdout ? lines(child.stdout, 'stdout') : undefined, lines(child.stderr!, 'stderr')]);
    replica.exited = new Promise((resolve) => {
      let gone = false;
      const onGone = (reason: string): void => {
        if (gone) return;
        gone = true;
        // Flush the last output lines before reporting the exit.
        void outputDone.then(() => {
          this.onProcessGone(replica, reason);
          resolve();
        });
      };
      child.once('exit', (code, signal) => onGone(signal ? `signal ${signal}` : `exit code ${code}`));
      child.once('error', (error) => {
        if (child.pid === undefined) {
          // spawn itself failed: no 'exit' follows and the pipes never open.
          child.stdout?.destroy();
          child.stderr?.destroy();
          onGone(error.message);
        }
      });
    });
    if (replica.portKnown) this.prober.start(replica);
    this.emit('change');
  }

  private onProcessGone(replica: Replica, reason: string): void {
    clearTimeout(replica.timer);
    this.prober.stop(replica);
    replica.endpoint.ready = false;
    if (replica.state === 'stopping' || replica.state === 'stopped' || this.stopping) {
      replica.state = 'stopped';
      this.emit('change');
      return;
    }
    if (replica.bindFailure !== undefined && replica.portRetries < MAX_PORT_RETRIES) {
      // Its port was taken (by another process, between our pick and its bind, or while it was down): start it
      // again at once on a fresh port. Not a crash of the app: no back-off, no restart counted.
      replica.portRetries += 1;
      this.options.log?.(
        `${replica.id} could not bind port ${replica.endpoint.port} (${replica.bindFailure}); starting it again on a fresh port ` +
          `(retry ${replica.portRetries} of ${MAX_PORT_RETRIES})`,
      );
      replica.state = 'backoff';
      replica.timer = setTimeout(() => void this.respawnOnFreshPort(replica), 0);
      this.emit('change');
      return;
    }
    // Crash: restart in place (same port, like a container restart in the same pod: same address, same place on a
    // consistent-hash ring) after a back-off. If the port was taken meanwhile, the bind failure moves it.
    if (Date.now() - replica.startedAt >= this.backoff.resetAfterMs) replica.crashStreak = 0;
    replica.crashStreak += 1;
    replica.restarts += 1;
    const delay = backoffDelay(replica.crashStreak, this.backoff);
    replica.state = 'backoff';
    this.options.log?.(
      `${replica.id} exited (${reason}); restart #${replica.restarts} in ${formatMs(delay)}` + (replica.crashStreak > 1 ? ' (CrashLoopBackOff)' : ''),
    );
    replica.timer = setTimeout(() => {
      if (replica.state === 'backoff' && !this.stopping) this.spawnProcess(replica);
    }, delay);
    this.emit('change');
  }

  private async respawnOnFreshPort(replica: Replica): Promise<void> {
    if (replica.state !== 'backoff' || this.stopping) return;
    const taken = replica.endpoint.port;
    try {
      replica.endpoint.port = replica.spec.command.port === 'reported' ? 0 : await this.pickPort();
    } catch (error) {
      this.options.log?.(`${replica.id}: no free port (${(error as Error).message}); trying its old port again`);
    }
    if (replica.state !== 'backoff' || this.stopping) return;
    if (replica.spec.command.port === 'reported') replica.movedFrom = taken;
    else if (replica.endpoint.port !== taken) this.options.log?.(`${replica.id} now listens on port ${replica.endpoint.port} (was ${taken})`);
    this.spawnProcess(replica);
  }

  /**
   * Ready for `minReadyMs` without a break, as a Deployment counts a pod available (kubernetes/kubernetes
   * `pkg/api/v1/pod/util.go`, `IsPodAvailable`: ready, and the Ready condition's lastTransitionTime +
   * minReadySeconds has passed). A replica that turns not ready meanwhile starts the wait again once ready.
   * Meanwhile it is in the endpoints and takes traffic, as a ready pod does.
   */
  private async waitAvailable(replica: Replica): Promise<void> {
    const minReadyMs = replica.spec.minReadyMs ?? 0;
    for (;;) {
      await this.waitReady(replica);
      const remaining = replica.readySince + minReadyMs - Date.now();
      if (remaining <= 0) return;
      const stayedReady = await new Promise<boolean>((resolve) => {
        const onChange = (): void => {
          if (replica.endpoint.ready) return;
          clearTimeout(timer);
          this.removeListener('change', onChange);
          resolve(false);
        };
        const timer = setTimeout(() => {
          this.removeListener('change', onChange);
          resolve(true);
        }, remaining);
        this.on('change', onChange);
      });
      if (stayedReady && replica.endpoint.ready) return;
      this.options.log?.(`${replica.id} turned not ready within minReadySeconds (${formatMs(minReadyMs)}): waiting for it again`);
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; its exit then restarts it like a crash (onProcessGone). */
  private killForRestart(replica: Replica, child: NonNullable<Replica['child']>): void {
    child.kill('SIGTERM');
    const killTimer = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? replica.spec.terminationGraceMs);
    void replica.exited.then(() => clearTimeout(killTimer));
  }

  private waitReady(replica: Replica): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (replica.endpoint.ready) finish();
        else if (replica.state === 'stopping' || replica.state === 'stopped' || this.stopping)
          finish(new Error(`${replica.id} was stopped before it became ready`));
      };
      const timer = setTimeout(() => {
        const tail = replica.tail
          .slice(-10)
          .map((line) => `  ${line}`)
          .join('\n');
        const waitingFor = replica.portKnown
          ? `did not become ready within ${formatMs(this.probe.startupTimeoutMs)} (${this.prober.readinessName(replica.spec)} on port ${replica.endpoint.port}`
          : `did not report its port within ${formatMs(this.probe.startupTimeoutMs)} (expected { type: 'listening', port } on the IPC ` +
            `channel, as service-kit's runServer and web-app/local/run-web-app.mjs send when MESH_SUPERVISED=1`;
        finish(new Error(`${replica.id} ${waitingFor}, restarts: ${replica.restarts})` + (tail ? `; its last output:\n${tail}` : '; it printed nothing')));
      }, this.probe.startupTimeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.removeListener('change', check);
        if (error) reject(error);
        else resolve();
      };
      this.on('change', check);
      check();
    });
  }

  private async stopReplica(replica: Replica): Promise<void> {
    if (replica.state === 'stopped') return;
    const wasBackingOff = replica.state === 'backoff';
    replica.state = 'stopping';
    replica.endpoint.ready = false;
    clearTimeout(replica.timer);
    this.prober.stop(replica);
    this.emit('change');
    const child = replica.child;
    if (!wasBackingOff && child && child.exitCode === null && child.signalCode === null) {
      const stopStarted = Date.now();
      child.kill('SIGTERM');
      const deadline = this.options.stopTimeoutMs ?? replica.spec.terminationGraceMs;
      let killTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        replica.exited,
        new Promise<void>((resolve) => {
          killTimer = setTimeout(() => {
            this.options.log?.(`${replica.id} did not stop within ${formatMs(deadline)} of SIGTERM: SIGKILL`);
            child.kill('SIGKILL');
            resolve();
          }, deadline);
        }),
      ]);
      clearTimeout(killTimer);
      await replica.exited;
      const took = Date.now() - stopStarted;
      if (took > 2000) this.options.log?.(`${replica.id} took ${formatMs(took)} to stop after SIGTERM`);
    }
    replica.state = 'stopped';
    const at = this.replicas.indexOf(replica);
    if (at >= 0) this.replicas.splice(at, 1);
    this.refreshView();
    this.emit('change');
  }

  private refreshView(): void {
    this.endpointView = this.replicas.map((r) => r.endpoint);
  }
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 65535;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}
