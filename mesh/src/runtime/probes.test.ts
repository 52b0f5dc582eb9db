/**
 * Probes on each container's own schedule, as the kubelet runs them: the manifests' fields with Kubernetes'
 * defaults, the consecutive-result rule, and the supervisor's readiness and liveness workers against a fake service.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { until } from '@cns/service-kit/testing';
import { loadManifestFiles } from '../manifests';
import { KUBERNETES_PROBE_DEFAULTS, ProbeResult, probeSchedule, type ProbeSchedule } from './probes';
import { Supervisor } from './supervisor';
import { buildTopology, type WorkloadSpec } from './topology';

describe('probe schedules from the manifests', () => {
  it("fills in Kubernetes' defaults for what a probe leaves out (period 10 s, timeout 1 s, thresholds 1 and 3)", () => {
    expect(probeSchedule(undefined)).toEqual({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
    expect(probeSchedule({ periodSeconds: 5, successThreshold: 2 })).toEqual({ ...KUBERNETES_PROBE_DEFAULTS, periodMs: 5000, successThreshold: 2 });
    // A liveness probe's successThreshold is always 1 (the API server refuses another).
    expect(probeSchedule({ successThreshold: 3 }, 'liveness').successThreshold).toBe(1);
  });

  it("reads each container's readiness and liveness probes from k8s/", () => {
    const { workloads } = buildTopology(loadManifestFiles(['k8s'], { root: path.resolve(__dirname, '../../..') }).objects);
    const of = (name: string) => workloads.find((w) => w.workload.name === name)!;
    expect(of('web-api-v1').readinessSchedule).toEqual({ initialDelayMs: 0, periodMs: 2000, timeoutMs: 2000, successThreshold: 1, failureThreshold: 2 });
    expect(of('web-api-v1').liveness).toEqual({ kind: 'http', path: '/healthz', schedule: { ...KUBERNETES_PROBE_DEFAULTS, timeoutMs: 2000 } });
    expect(of('authors').readinessSchedule).toMatchObject({ periodMs: 5000, timeoutMs: 1000, failureThreshold: 2 });
    // pg_isready in the cluster: a Postgres session locally, 30 s after the start, 6 failures in a row.
    expect(of('postgres').liveness).toEqual({
      kind: 'postgres',
      path: '',
      schedule: { ...KUBERNETES_PROBE_DEFAULTS, initialDelayMs: 30_000, failureThreshold: 6 },
    });
  });
});

describe('ProbeResult (the kubelet worker: a run of equal outcomes changes the result at its threshold)', () => {
  const schedule: ProbeSchedule = { ...KUBERNETES_PROBE_DEFAULTS, successThreshold: 2, failureThreshold: 3 };

  it('needs successThreshold successes in a row to turn ready, failureThreshold failures in a row to turn not ready', () => {
    const readiness = new ProbeResult(schedule, false);
    expect([true, false, true, true].map((ok) => readiness.observe(ok))).toEqual([false, false, false, true]);
    expect(readiness.value).toBe(true);
    expect([false, false, true, false, false].map((ok) => readiness.observe(ok))).toEqual([false, false, false, false, false]);
    expect(readiness.observe(false)).toBe(true);
    expect(readiness.value).toBe(false);
  });
});

const fakeService = `
const http = require('node:http');
const fs = require('node:fs');
const failing = (name) => process.env[name] && fs.existsSync(process.env[name]);
const server = http.createServer((req, res) => {
  res.statusCode = (req.url === '/readyz' && failing('NOT_READY_FLAG')) || (req.url === '/healthz' && failing('DEAD_FLAG')) ? 503 : 200;
  res.end();
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

describe('Supervisor probes on each container schedule', () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  const logs: string[] = [];
  const fast: ProbeSchedule = { initialDelayMs: 0, periodMs: 50, timeoutMs: 1000, successThreshold: 1, failureThreshold: 1 };

  const spec = (name: string, probes: Pick<WorkloadSpec, 'readinessSchedule' | 'liveness'>): WorkloadSpec => ({
    workload: { name, namespace: 'default', labels: { app: name }, app: name, version: 'v1', serviceAccount: name, replicas: 1 },
    command: { argv: ['node', 'fake.js'], cwd: dir, requires: { file: path.join(dir, 'fake.js'), buildHint: 'write it' }, defaultReadinessPath: '/readyz' },
    env: { NOT_READY_FLAG: path.join(dir, `${name}.not-ready`), DEAD_FLAG: path.join(dir, `${name}.dead`) },
    readinessPath: '/readyz',
    terminationGraceMs: 2000,
    file: 'k8s/fake.yaml',
    ...probes,
  });
  const status = (name: string) => supervisor!.status().find((s) => s.workload === name)!;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-probes-'));
    fs.writeFileSync(path.join(dir, 'fake.js'), fakeService);
    logs.length = 0;
    supervisor = new Supervisor({ root: dir, meshEnv: () => ({}), backoff: { baseMs: 100, maxMs: 100 }, log: (message) => logs.push(message) });
  });

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("takes a replica out of traffic after its own failureThreshold: a failing probe of one workload's period does not count for another's", async () => {
    await supervisor!.startWorkload(spec('strict', { readinessSchedule: { ...fast, failureThreshold: 2 } }));
    await supervisor!.startWorkload(spec('tolerant', { readinessSchedule: { ...fast, failureThreshold: 1_000_000 } }));
    fs.writeFileSync(path.join(dir, 'strict.not-ready'), '');
    fs.writeFileSync(path.join(dir, 'tolerant.not-ready'), '');
    await until(() => !status('strict').ready);
    expect(logs).toContain('strict-0 failed 2 readiness probes in a row (GET /readyz): no traffic until it recovers');
    // Probed on the same 50 ms period, failing as often: still in traffic under its own threshold.
    expect(status('tolerant').ready).toBe(true);
    fs.rmSync(path.join(dir, 'strict.not-ready'));
    await until(() => status('strict').ready);
  });

  it('restarts a process whose liveness probe fails failureThreshold times in a row, as the kubelet restarts the container', async () => {
    // initialDelaySeconds gives each new process time to listen before its first liveness probe, as in a cluster.
    const liveness = { kind: 'http' as const, path: '/healthz', schedule: { ...fast, initialDelayMs: 1000, failureThreshold: 3 } };
    await supervisor!.startWorkload(spec('authors', { readinessSchedule: fast, liveness }));
    const before = status('authors');
    fs.writeFileSync(path.join(dir, 'authors.dead'), '');
    await until(() => status('authors').restarts === 1);
    expect(logs).toContain('authors-0 failed 3 liveness probes in a row (GET /healthz): restarting it');
    fs.rmSync(path.join(dir, 'authors.dead'));
    await until(() => status('authors').ready);
    expect(status('authors').pid).not.toBe(before.pid);
    expect(status('authors').restarts).toBe(1);
  });

  it('runs no liveness probe before initialDelaySeconds from the start, and no readiness probe either', async () => {
    fs.writeFileSync(path.join(dir, 'slow.dead'), '');
    const delayed = { ...fast, initialDelayMs: 1500 };
    const started = Date.now();
    await supervisor!.startWorkload(spec('slow', { readinessSchedule: delayed, liveness: { kind: 'http', path: '/healthz', schedule: delayed } }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await until(() => status('slow').restarts >= 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('keeps a replica without a liveness probe running however its /healthz answers', async () => {
    fs.writeFileSync(path.join(dir, 'plain.dead'), '');
    await supervisor!.startWorkload(spec('plain', { readinessSchedule: fast }));
    fs.writeFileSync(path.join(dir, 'plain.not-ready'), '');
    await until(() => !status('plain').ready);
    expect(status('plain')).toMatchObject({ restarts: 0, state: 'running' });
  });
});
