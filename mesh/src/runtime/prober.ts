/**
 * The kubelet's prober for the supervisor's replicas (kubernetes/kubernetes pkg/kubelet/prober/worker.go): per
 * process, a readiness worker that puts the endpoint in and out of traffic and a liveness worker that has the process
 * restarted, each on its container's schedule (./probes.ts).
 */
import http from 'node:http';
import { type ProbeCheck, type ProbePolicy, type ProbeSchedule, effectiveSchedule, ProbeResult, probeName, runCheck } from './probes';
import type { Replica } from './replica';
import type { WorkloadSpec } from './topology';

export interface ProberHooks {
  log: (message: string) => void;
  /** A replica's readiness changed. */
  changed: () => void;
  /** Its liveness failed: stop the process, to be restarted as after a crash. */
  restart: (replica: Replica, child: NonNullable<Replica['child']>) => void;
}

const isProbed = (replica: Replica): boolean => replica.state === 'starting' || replica.state === 'running';

export class Prober {
  private readonly agent = new http.Agent({ keepAlive: false });

  constructor(
    private readonly policy: ProbePolicy,
    private readonly hooks: ProberHooks,
  ) {}

  /** A new process of the replica: readiness starts as failure, liveness as success (the worker's `initialValue`). */
  reset(replica: Replica): void {
    replica.readiness = new ProbeResult(this.readinessSchedule(replica.spec), false);
    const liveness = replica.spec.liveness;
    replica.liveness = liveness ? new ProbeResult(effectiveSchedule(liveness.schedule, this.policy), true) : undefined;
  }

  /**
   * Once the process's port is known: readiness and liveness, each first after its `initialDelaySeconds` from the
   * process's start (the kubelet skips probes before it: `doProbe`, "Probe disabled for InitialDelaySeconds").
   */
  start(replica: Replica): void {
    const sinceStart = Date.now() - replica.startedAt;
    this.scheduleReadiness(replica, Math.max(0, this.readinessSchedule(replica.spec).initialDelayMs - sinceStart));
    const liveness = replica.spec.liveness;
    if (liveness) this.scheduleLiveness(replica, Math.max(0, effectiveSchedule(liveness.schedule, this.policy).initialDelayMs - sinceStart));
  }

  stop(replica: Replica): void {
    clearTimeout(replica.readinessTimer);
    clearTimeout(replica.livenessTimer);
  }

  destroy(): void {
    this.agent.destroy();
  }

  readinessName(spec: WorkloadSpec): string {
    return probeName(readinessCheck(spec));
  }

  private readinessSchedule(spec: WorkloadSpec): ProbeSchedule {
    return effectiveSchedule(spec.readinessSchedule, this.policy);
  }

  private scheduleReadiness(replica: Replica, delayMs: number): void {
    clearTimeout(replica.readinessTimer);
    replica.readinessTimer = setTimeout(() => void this.probeReadiness(replica), delayMs);
  }

  private async probeReadiness(replica: Replica): Promise<void> {
    if (!isProbed(replica)) return;
    const child = replica.child;
    const schedule = this.readinessSchedule(replica.spec);
    const ok = await runCheck(replica.spec.env, readinessCheck(replica.spec), replica.endpoint.port, schedule.timeoutMs, this.agent);
    // The process may have been replaced or stopped while the probe ran.
    if (replica.child !== child || !isProbed(replica)) return;
    if (replica.readiness!.observe(ok)) {
      if (ok) {
        replica.endpoint.ready = true;
        replica.readySince = Date.now();
        replica.everReady = true;
        replica.portRetries = 0;
        replica.state = 'running';
        if (replica.restarts > 0) this.hooks.log(`${replica.id} is ready again`);
      } else {
        replica.endpoint.ready = false;
        this.hooks.log(
          `${replica.id} failed ${schedule.failureThreshold} readiness probes in a row (${this.readinessName(replica.spec)}): no traffic until it recovers`,
        );
      }
      this.hooks.changed();
    }
    // Polled while it starts (until a first success), then on its own period.
    this.scheduleReadiness(replica, replica.everReady || ok ? schedule.periodMs : this.policy.startupPollMs);
  }

  private scheduleLiveness(replica: Replica, delayMs: number): void {
    clearTimeout(replica.livenessTimer);
    replica.livenessTimer = setTimeout(() => void this.probeLiveness(replica), delayMs);
  }

  private async probeLiveness(replica: Replica): Promise<void> {
    const check = replica.spec.liveness;
    if (!check || !isProbed(replica)) return;
    const child = replica.child;
    const schedule = effectiveSchedule(check.schedule, this.policy);
    const ok = await runCheck(replica.spec.env, check, replica.endpoint.port, schedule.timeoutMs, this.agent);
    if (!child || replica.child !== child || !isProbed(replica)) return;
    if (replica.liveness!.observe(ok) && !ok) {
      // No more probes of this process: the kubelet holds the worker until the new container.
      this.hooks.log(`${replica.id} failed ${schedule.failureThreshold} liveness probes in a row (${probeName(check)}): restarting it`);
      clearTimeout(replica.readinessTimer);
      replica.endpoint.ready = false;
      this.hooks.changed();
      this.hooks.restart(replica, child);
      return;
    }
    this.scheduleLiveness(replica, schedule.periodMs);
  }
}

function readinessCheck(spec: WorkloadSpec): Pick<ProbeCheck, 'kind' | 'path'> {
  return { kind: spec.readinessKind === 'postgres' ? 'postgres' : 'http', path: spec.readinessPath };
}
