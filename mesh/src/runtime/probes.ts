/**
 * The supervisor's probes, as the kubelet runs them: an HTTP GET (2xx/3xx = success) or a Postgres session, on each
 * container's own schedule (`periodSeconds`, `initialDelaySeconds`, `timeoutSeconds`, `successThreshold`,
 * `failureThreshold`; Kubernetes' defaults when absent), with the kubelet's consecutive-result rule.
 */
import http from 'node:http';
import { canQuery } from '../postgres';

/** One container probe's timing, in ms (the manifest's seconds × 1000). */
export interface ProbeSchedule {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  /** Consecutive successes that turn a failing result into success (readiness; liveness must be 1). */
  successThreshold: number;
  /** Consecutive failures that turn a passing result into failure. */
  failureThreshold: number;
}

/** What the API server fills in for a probe's absent fields (kubernetes/kubernetes pkg/apis/core/v1/defaults.go, `SetDefaults_Probe`). */
export const KUBERNETES_PROBE_DEFAULTS: ProbeSchedule = { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 };

/** A container's probe as the manifests write it (the fields the mesh reads). */
export interface ContainerProbe {
  httpGet?: { path?: string };
  exec?: { command?: unknown };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

/** What a probe checks: an HTTP path, or a Postgres session with the workload's credentials (pg_isready). */
export interface ProbeCheck {
  kind: 'http' | 'postgres';
  /** HTTP path (kind `http`). */
  path: string;
  schedule: ProbeSchedule;
}

const seconds = (value: unknown, fallbackMs: number, minimum: number): number =>
  typeof value === 'number' && Number.isFinite(value) ? Math.max(minimum, Math.floor(value)) * 1000 : fallbackMs;
const count = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? Math.max(1, Math.floor(value)) : fallback);

/** A probe's schedule with Kubernetes' defaults for what it leaves out (and its minimums for what is too small). */
export function probeSchedule(probe: ContainerProbe | undefined, kind: 'readiness' | 'liveness' = 'readiness'): ProbeSchedule {
  const d = KUBERNETES_PROBE_DEFAULTS;
  return {
    initialDelayMs: seconds(probe?.initialDelaySeconds, d.initialDelayMs, 0),
    periodMs: seconds(probe?.periodSeconds, d.periodMs, 1),
    timeoutMs: seconds(probe?.timeoutSeconds, d.timeoutMs, 1),
    // The API server refuses a liveness probe with another successThreshold (validation: "must be 1").
    successThreshold: kind === 'liveness' ? 1 : count(probe?.successThreshold, d.successThreshold),
    failureThreshold: count(probe?.failureThreshold, d.failureThreshold),
  };
}

/**
 * A probe's result as the kubelet keeps it (kubernetes/kubernetes pkg/kubelet/prober/worker.go, `doProbe`): a run of
 * equal outcomes changes it only once the run reaches the threshold for that outcome. Readiness starts as failure,
 * liveness as success (`newWorker`'s `initialValue`).
 */
export class ProbeResult {
  private lastOutcome: boolean | undefined;
  private run = 0;

  constructor(
    private readonly schedule: ProbeSchedule,
    public value: boolean,
  ) {}

  /** Counts one probe outcome; true when it changed the result. */
  observe(success: boolean): boolean {
    if (this.lastOutcome === success) this.run++;
    else {
      this.lastOutcome = success;
      this.run = 1;
    }
    if (this.run < (success ? this.schedule.successThreshold : this.schedule.failureThreshold)) return false;
    const changed = this.value !== success;
    this.value = success;
    return changed;
  }
}

/**
 * The supervisor's probe settings. The schedules come from each container's probes; a field set here overrides every
 * container's (tests, and the reliability suite, which loads 2 cores until a 1 s timeout means little).
 */
export interface ProbePolicy extends Partial<Pick<ProbeSchedule, 'periodMs' | 'timeoutMs' | 'failureThreshold'>> {
  /**
   * Poll interval of the readiness probe while a started process has not yet passed it. The kubelet probes at the
   * container's start and each `periodSeconds` after; locally a 5 s period would add seconds to every start-up, so
   * the mesh polls faster until the first success, then follows the schedule.
   */
  startupPollMs: number;
  /** How long `waitReady` waits for a starting replica. */
  startupTimeoutMs: number;
}

export const defaultProbe: ProbePolicy = { startupPollMs: 100, startupTimeoutMs: 30_000 };

/** A container's schedule with the supervisor's overrides applied. */
export function effectiveSchedule(schedule: ProbeSchedule | undefined, policy: ProbePolicy): ProbeSchedule {
  const base = schedule ?? KUBERNETES_PROBE_DEFAULTS;
  return {
    ...base,
    periodMs: policy.periodMs ?? base.periodMs,
    timeoutMs: policy.timeoutMs ?? base.timeoutMs,
    failureThreshold: policy.failureThreshold ?? base.failureThreshold,
  };
}

export function probeName(check: Pick<ProbeCheck, 'kind' | 'path'>): string {
  return check.kind === 'postgres' ? 'a Postgres session, as pg_isready' : `GET ${check.path}`;
}

/** Runs one probe of `check` against a replica on `port`; `env` is the container's (a Postgres session's credentials). */
export function runCheck(
  env: Readonly<Record<string, string>>,
  check: Pick<ProbeCheck, 'kind' | 'path'>,
  port: number,
  timeoutMs: number,
  agent: http.Agent,
): Promise<boolean> {
  return check.kind === 'postgres' ? probePostgres(env, port, timeoutMs) : probeHttp(port, check.path, timeoutMs, agent);
}

/** Ready when a session with the workload's own credentials (POSTGRES_USER/PASSWORD/DB) answers `SELECT 1`. */
export async function probePostgres(env: Readonly<Record<string, string>>, port: number, timeoutMs: number): Promise<boolean> {
  const user = encodeURIComponent(env.POSTGRES_USER ?? 'postgres');
  const password = encodeURIComponent(env.POSTGRES_PASSWORD ?? 'postgres');
  const database = encodeURIComponent(env.POSTGRES_DB ?? env.POSTGRES_USER ?? 'postgres');
  return canQuery(`postgres://${user}:${password}@127.0.0.1:${port}/${database}`, timeoutMs).then(
    () => true,
    () => false,
  );
}

export function probeHttp(port: number, probePath: string, timeoutMs: number, agent: http.Agent): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: probePath, agent, timeout: timeoutMs }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    request.once('timeout', () => request.destroy(new Error('probe timeout')));
    request.once('error', () => resolve(false));
  });
}
