// In-process A/B of the HTTP data plane of two checkouts (build both first): one sidecar data plane each, default
// route to one static upstream in the same process, a no-op telemetry sink; CPU of this process (client + proxy +
// upstream, the same for both) per proxied request, 4 keep-alive connections, runs interleaved A B B A.
//
//   node bench/ab-dataplane.mjs CHECKOUT_A CHECKOUT_B              env: N=4000 requests per run, ROUNDS=4
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [dirA, dirB] = process.argv.slice(2).map((d) => path.resolve(d));
if (!dirB) throw new Error('usage: node bench/ab-dataplane.mjs CHECKOUT_A CHECKOUT_B');
const N = Number(process.env.N ?? 4000);
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('{"ok":true}'));
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upPort = upstream.address().port;
const wl = (name) => ({ name, namespace: 'default', labels: { app: name, version: 'v1' }, app: name, version: 'v1', serviceAccount: name, replicas: 1 });
const endpoints = [{ id: 'authors-0', workload: wl('authors'), host: '127.0.0.1', port: upPort, ready: true }];
const svc = {
  object: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'authors', namespace: 'default' },
    spec: { selector: { app: 'authors' }, ports: [{ name: 'http', port: 3000 }] },
  },
  source: { file: 'x' },
};
async function plane(dir) {
  const dp = require(`${dir}/mesh/dist/dataplane/index.js`);
  // Only needed with a consistentHash policy (none here); older checkouts keep hashing.js elsewhere.
  const config = dp.compileMeshConfig({
    istio: { gateways: [], virtualServices: [], destinationRules: [] },
    services: [svc],
    workloads: [wl('web-api'), wl('authors')],
    mode: 'istio',
    namespace: 'default',
  });
  const p = dp.createDataPlane({
    source: { kind: 'sidecar', workload: wl('web-api') },
    config: () => config,
    endpoints: { endpoints: () => endpoints },
    telemetry: { record() {} },
  });
  const server = http.createServer((req, res) => p.handle(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, server, p };
}
const planes = [await plane(dirA), await plane(dirB)];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function one(port) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: 'http://authors:3000/api/v1/authors?name=x', agent, headers: { host: 'authors:3000' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
async function run(port, n) {
  let i = 0;
  const workers = [];
  for (let w = 0; w < 4; w++)
    workers.push(
      (async () => {
        while (i++ < n) {
          const s = await one(port);
          if (s !== 200) throw new Error(`status ${s}`);
        }
      })(),
    );
  await Promise.all(workers);
}
for (const pl of planes) await run(pl.port, 2000);
const res = [[], []];
for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round++)
  for (const k of [0, 1, 1, 0]) {
    const c0 = process.cpuUsage();
    await run(planes[k].port, N);
    const c = process.cpuUsage(c0);
    res[k].push((c.user + c.system) / 1000 / N);
  }
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};
res.forEach((r, k) =>
  console.log(
    `${k ? 'B' : 'A'} ${k ? dirB : dirA}: ${med(r).toFixed(4)} ms CPU per request (process: client+proxy+upstream), runs ${r.map((x) => x.toFixed(3)).join(' ')}`,
  ),
);
process.exit(0);
