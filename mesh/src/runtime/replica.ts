/** One replica the supervisor runs: its endpoint, its current process and the state of its restarts and probes. */
import type { ChildProcess } from 'node:child_process';
import type { Endpoint } from '../model';
import type { ProbeResult } from './probes';
import type { WorkloadSpec } from './topology';

export type ReplicaState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export class Replica {
  child: ChildProcess | undefined;
  state: ReplicaState = 'starting';
  restarts = 0;
  crashStreak = 0;
  startedAt = 0;
  /** The current process's readiness and liveness results (the kubelet's, per container). */
  readiness: ProbeResult | undefined;
  liveness: ProbeResult | undefined;
  readinessTimer: NodeJS.Timeout | undefined;
  livenessTimer: NodeJS.Timeout | undefined;
  everReady = false;
  /** When the endpoint last turned ready (the pod's Ready condition's lastTransitionTime). */
  readySince = 0;
  /** The restart back-off's timer. */
  timer: NodeJS.Timeout | undefined;
  exited: Promise<void> = Promise.resolve();
  /** The current process's port is known: assigned before the start, or reported by the child. */
  portKnown = false;
  /** What the current process said when it could not bind its port (an IPC message or an output line). */
  bindFailure: string | undefined;
  /** Starts on a fresh port since the replica was last ready. */
  portRetries = 0;
  /** The port it had before it was moved to a fresh one (for the log line once the new one is known). */
  movedFrom: number | undefined;
  readonly tail: string[] = [];
  constructor(
    readonly spec: WorkloadSpec,
    readonly endpoint: Endpoint,
  ) {}
  get id(): string {
    return this.endpoint.id;
  }
}
