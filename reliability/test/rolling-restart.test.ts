/**
 * Rolling restarts of web-api v1 under load through the local mesh (issue 25): reads at RELIABILITY_RATE (default
 * 200) req/s and 10 creates/s for 20 s, each scenario next to a control phase with the same load and no restart (so
 * a failure is the restart's), alone and with one busy core beside the stack (a CPU hog the test starts and stops).
 * Creates carry an Idempotency-Key and are retried with it (no answer, 5xx), as a careful client does; afterwards
 * the database itself says whether every answer told the truth: every 201 stored once, nothing stored behind an
 * error, no title twice. Needs `npm run build`. The numbers land in .test-results/resilience.md.
 */
import {
  ResultTable,
  achievedRate,
  auditCreates,
  quantile,
  readyEndpoints,
  runClosedLoop,
  runIdempotentCreates,
  runOpenLoop,
  startCpuHog,
  startStack,
  type CpuHog,
  type CreateAudit,
  type Sample,
  type Stack,
} from '../src';

const RATE = Number(process.env.RELIABILITY_RATE ?? 200);
const LOAD_MS = 20_000;
const CREATE_RATE = 10;
const GETMULTIPLE = '/web-api/v1/getmultiple';

const table = new ResultTable('rolling-restart');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  // Warm-up (JIT, connection pools), so the first phase measures the stack rather than its first seconds.
  await runClosedLoop(stack.mesh.gatewayUrl, 300, { path: GETMULTIPLE }, 8);
}, 180_000);

afterAll(async () => {
  table.flush();
  await stack?.stop();
}, 60_000);

interface Phase {
  p99Ms: number;
  failedReads: Sample[];
  rate: number;
  audit: CreateAudit;
  restarts: number;
}

const isFiveArticles = (sample: Sample): boolean => {
  try {
    const body: unknown = JSON.parse(sample.body);
    return Array.isArray(body) && body.length === 5;
  } catch {
    return false;
  }
};
const describeSample = (s: Sample) => `${s.status} after ${Math.round(s.latencyMs)} ms: ${s.error ?? s.body.slice(0, 100)}`;

/** Reads and creates for LOAD_MS; with `roll`, web-api v1 is rolled again and again from the second second on. */
async function runPhase(label: string, roll: boolean): Promise<Phase> {
  const { mesh } = stack;
  const v1Before = readyEndpoints(mesh, 'web-api-v1').map((e) => e.pid);
  const runId = `${label.replace(/\W+/g, '-')}-${Date.now().toString(36)}`;
  let restarts = 0;
  let rolling: Promise<void> | undefined;
  const rollWhileLoaded = async (): Promise<void> => {
    const deadline = Date.now() + LOAD_MS - 8000;
    while (Date.now() < deadline) {
      await mesh.restartWorkload('web-api-v1');
      restarts++;
    }
  };
  const [reads, creates] = await Promise.all([
    runOpenLoop({
      baseUrl: mesh.gatewayUrl,
      request: { path: GETMULTIPLE },
      ratePerSecond: RATE,
      durationMs: LOAD_MS,
      timeoutMs: 5000,
      onTick: (index) => {
        if (roll && index === Math.round(RATE * 2)) rolling = rollWhileLoaded();
      },
    }),
    runIdempotentCreates({ baseUrl: mesh.gatewayUrl, ratePerSecond: CREATE_RATE, durationMs: LOAD_MS, runId }),
  ]);
  await rolling;
  const audit = await auditCreates(mesh, stack.root, runId, creates);
  const phase = {
    p99Ms: quantile(
      reads.map((s) => s.latencyMs),
      0.99,
    ),
    failedReads: reads.filter((s) => s.status !== 200 || !isFiveArticles(s)),
    rate: achievedRate(reads.map((s) => s.startedAtMs)),
    audit,
    restarts,
  };
  const firstAttempts = creates.map((c) => c.attempts[0]!);
  table.rows.push(
    {
      scenario: `${label}: reads (${phase.rate.toFixed(0)} req/s getmultiple${roll ? `, web-api v1 rolled ×${restarts}` : ''})`,
      requests: reads.length,
      failures: phase.failedReads.length,
      p99Ms: phase.p99Ms,
      result: 'FAIL',
      note:
        phase.failedReads.length > 0 ? `first failure: ${describeSample(phase.failedReads[0]!)}` : 'failure = not 200 with 5 articles, or no answer within 5 s',
    },
    {
      scenario: `${label}: creates with Idempotency-Key, retried`,
      requests: creates.length,
      failures: audit.gaveUp.length + audit.missing.length + audit.storedBehindError.length + audit.duplicated.length,
      p99Ms: quantile(
        firstAttempts.map((s) => s.latencyMs),
        0.99,
      ),
      result: 'FAIL',
      note:
        `${audit.created} created, ${audit.retried} needed a retry (first answers: ${summariseStatuses(firstAttempts)}); ` +
        `lost ${audit.gaveUp.length}, missing ${audit.missing.length}, stored behind an error ${audit.storedBehindError.length}, duplicated ${audit.duplicated.length}`,
    },
  );
  if (roll) expect(readyEndpoints(mesh, 'web-api-v1').map((e) => e.pid)).not.toEqual(v1Before);
  return phase;
}

function summariseStatuses(samples: ReadonlyArray<Pick<Sample, 'status'>>): string {
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${n} × ${status === 0 ? 'no answer' : status}`)
    .join(', ');
}

/** The phase's assertions; its two rows turn 'pass' only when they hold. */
function expectHeld(phase: Phase): void {
  const [readRow, createRow] = table.rows.slice(-2);
  expect(phase.rate).toBeGreaterThanOrEqual(RATE * 0.95);
  expect({ count: phase.failedReads.length, first: phase.failedReads.slice(0, 5).map(describeSample) }).toEqual({ count: 0, first: [] });
  readRow!.result = 'pass';
  const { audit } = phase;
  expect({
    lost: audit.gaveUp.map((o) => `${o.key}: ${o.attempts.map((a) => a.status).join(' → ')}`),
    missing: audit.missing.map((o) => o.key),
    storedBehindError: audit.storedBehindError.map((o) => `${o.key}: ${o.attempts.map((a) => a.status).join(' → ')}`),
    duplicated: audit.duplicated,
  }).toEqual({ lost: [], missing: [], storedBehindError: [], duplicated: [] });
  createRow!.result = 'pass';
}

function compareWithControl(roll: Phase, control: Phase | undefined): void {
  const readRow = table.rows[table.rows.length - 2]!;
  readRow.note += control ? `; p99 ${Math.round(roll.p99Ms)} ms during the roll vs ${Math.round(control.p99Ms)} ms in the control phase` : '';
}

let control: Phase | undefined;
let busyControl: Phase | undefined;

describe(`rolling restart of web-api v1 at ${RATE} req/s`, () => {
  it('control: the same load without a restart has 0 failed reads and every create stored once', async () => {
    control = await runPhase('control', false);
    expectHeld(control);
  }, 120_000);

  it('rolling restart: 0 failed reads, 0 lost or duplicated creates, nothing stored behind an error', async () => {
    const phase = await runPhase('rolling restart', true);
    compareWithControl(phase, control);
    expect(phase.restarts).toBeGreaterThanOrEqual(1);
    expectHeld(phase);
  }, 120_000);

  describe('with one busy core beside the stack', () => {
    let hog: CpuHog | undefined;
    beforeAll(async () => {
      hog = await startCpuHog(240_000);
    });
    afterAll(async () => {
      await hog?.stop();
    });

    it('control with a busy core: the same load without a restart', async () => {
      busyControl = await runPhase('busy core, control', false);
      expectHeld(busyControl);
    }, 120_000);

    it('rolling restart with a busy core: 0 failed reads, 0 lost or duplicated creates', async () => {
      const phase = await runPhase('busy core, rolling restart', true);
      compareWithControl(phase, busyControl);
      expect(phase.restarts).toBeGreaterThanOrEqual(1);
      expectHeld(phase);
    }, 120_000);
  });
});
