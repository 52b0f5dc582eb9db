// articles on PostgreSQL through the local mesh: two articles replicas (k8s/articles.yaml with replicas: 2), creates
// in flight while articles and then postgres restart. Every acknowledged create (201) must be stored, and both
// replicas must give the same answers: the data is in the database, not in a process.
import fs from 'node:fs';
import path from 'node:path';
import { ResultTable, readyEndpoints, runClosedLoop, runOpenLoop, startStack, type Stack } from '../src';

jest.setTimeout(240_000);

const table = new ResultTable('database');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    prepareRoot: (root) => {
      const file = path.join(root, 'k8s/articles.yaml');
      const yaml = fs.readFileSync(file, 'utf8');
      if (!/^ {2}replicas: 1$/m.test(yaml)) throw new Error('k8s/articles.yaml: expected "  replicas: 1" under the Deployment spec');
      fs.writeFileSync(file, yaml.replace(/^ {2}replicas: 1$/m, '  replicas: 2'));
    },
  });
}, 240_000);

afterAll(async () => {
  table.flush();
  await stack?.stop();
}, 60_000);

it('restarting articles and then postgres while creates are in flight loses no acknowledged create; two articles replicas give the same answers', () =>
  table.run('restart articles, then postgres, under 10 creates/s: no acknowledged create lost, replicas agree', async (row) => {
    const { mesh } = stack;
    expect(readyEndpoints(mesh, 'articles')).toHaveLength(2);
    const runId = Date.now().toString(36);
    const restarts: Promise<void>[] = [];
    const writes = runOpenLoop({
      baseUrl: mesh.gatewayUrl,
      request: (i) => ({
        method: 'POST',
        path: '/web-api/v1/create',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: `database ${runId} #${i}`, url: `https://example.com/database/${runId}/${i}`, author: 'Reliability Suite' }),
      }),
      ratePerSecond: 10,
      durationMs: 20_000,
      timeoutMs: 10_000,
      onTick: (index) => {
        // After 2 s: a rolling restart of both articles replicas, then postgres (stopped, started again on its data).
        if (index === 20)
          restarts.push(
            (async () => {
              await mesh.restartWorkload('articles');
              await mesh.restartWorkload('postgres');
            })(),
          );
      },
    });
    const samples = await writes;
    await Promise.all(restarts);
    const created = samples.filter((s) => s.status === 201).map((s) => JSON.parse(s.body) as { id: string; title: string });
    const refused = samples.filter((s) => s.status !== 201);
    row.requests = samples.length;

    // Once both replicas are ready again, each one (asked directly, on its own port) has every acknowledged article.
    const deadline = Date.now() + 60_000;
    while (readyEndpoints(mesh, 'articles').length < 2 || readyEndpoints(mesh, 'postgres').length < 1) {
      if (Date.now() > deadline) throw new Error('articles ×2 and postgres not ready again within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const replicas = readyEndpoints(mesh, 'articles');
    let missing = 0;
    for (const replica of replicas) {
      const lookups = await runClosedLoop(`http://127.0.0.1:${replica.port}`, created.length, (i) => ({ path: `/articles/v1/getone?id=${created[i]!.id}` }), 8);
      missing += lookups.filter((s, i) => s.status !== 200 || (JSON.parse(s.body) as { title: string }).title !== created[i]!.title).length;
    }
    const newest = await Promise.all(replicas.map((r) => fetch(`http://127.0.0.1:${r.port}/articles/v1/getmultiple?amount=100`).then((res) => res.text())));
    row.failures = missing;
    row.note = `${created.length} acknowledged, ${missing} missing afterwards; ${refused.length} refused while a restart was in progress (${[...new Set(refused.map((s) => s.status))].join(', ') || 'none'}) — refused is allowed, lost is not`;
    expect(created.length).toBeGreaterThan(samples.length / 2);
    expect(missing).toBe(0);
    // Refused creates were told so (503 from articles or web-api), never a false 201; nothing hangs.
    expect(refused.every((s) => s.status >= 500 && s.status < 600)).toBe(true);
    expect(newest[0]).toBe(newest[1]);
    expect(JSON.parse(newest[0]!)[0].title).toMatch(new RegExp(`^database ${runId} #`));
  }));
