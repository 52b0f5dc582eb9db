// Sections 4 and 5 of `npm run bench`: getmultiple through the local mesh vs nginx in front of web-api vs web-api
// direct vs the floor (every hop through bench/bare-proxy.mjs), and the mesh process's CPU per hop and RSS.
import { checkGetmultiple, getJson, log, measurePaths, minus, ratio, startDirectStack } from '../lib/harness.mjs';
import { hey, round } from '../lib/load.mjs';
import { rssMb, sampleProcesses } from '../lib/proc-stats.mjs';
import { startHelper, startMesh, startNginx, startService } from '../lib/processes.mjs';
import { RATE_1000, RATE_STACK, STACK_CONNECTIONS, T } from '../lib/settings.mjs';

/** Requests the bare proxies proxied so far (each prints `requests <n>` on SIGUSR2), summed. */
async function proxiedRequests(proxies) {
  const counts = await Promise.all(
    proxies.map(
      (p) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${p.name}: no request count within 5 s`)), 5000);
          let done = false;
          p.onLine((line) => {
            const m = /^requests (\d+)$/.exec(line);
            if (m && !done) {
              done = true;
              clearTimeout(timer);
              resolve(Number(m[1]));
            }
          });
          p.child.kill('SIGUSR2');
        }),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Requests the mesh proxied (every hop: gateway and sidecars), from its own Istio metrics. */
async function meshHops(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let total = 0;
  for (const m of text.matchAll(/^istio_requests_total\{([^}]*)\} ([\d.e+]+)$/gm)) if (!/reporter="destination"/.test(m[1])) total += Number(m[2]);
  return total;
}

/** nginx (proxy_pass, keepalive) in front of the direct stack's web-api. */
function startNginxInFront(stack) {
  return startNginx(
    'nginx-stack',
    `  upstream web_api_v1 { server 127.0.0.1:${stack.webApi.port}; keepalive 64; }
  server {
    listen 127.0.0.1:{{port}};
    location / {
      proxy_pass http://web_api_v1;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
}

/**
 * The floor (bench/bare-proxy.mjs, no mesh code): the same articles and authors, a web-api v1 of its own whose calls
 * go through a bare proxy as its HTTP_PROXY (absolute URI → the services' direct ports), and a bare proxy as the
 * front door: the same 7 hops per getmultiple as through the mesh, each through node:http + undici and nothing else.
 * Its articles reaches the shared database through a bare TCP relay, as the mesh's articles reaches PostgreSQL
 * through the mesh's outbound TCP hop (CPU the mesh figure includes).
 */
async function startBareProxyStack(stack) {
  const sharedDatabase = new URL(stack.articles.databaseUrl);
  const bareDbRelay = await startHelper('bare-proxy-postgres', 'bare-proxy.mjs', ['--tcp', sharedDatabase.port]);
  const bareArticles = await startService('articles-bare-proxy', 'articles', {
    DATABASE_URL: Object.assign(new URL(sharedDatabase), { port: String(bareDbRelay.port) }).href,
  });
  const bareSidecar = await startHelper('bare-proxy-sidecar', 'bare-proxy.mjs');
  const bareWebApi = await startService('web-api-v1-bare-proxy', 'web-api-v1', {
    ARTICLES_URL: `http://127.0.0.1:${bareArticles.port}`,
    AUTHORS_URL: `http://127.0.0.1:${stack.authors.port}`,
    HTTP_PROXY: `http://127.0.0.1:${bareSidecar.port}`,
    NO_PROXY: '',
  });
  const bareFront = await startHelper('bare-proxy-front', 'bare-proxy.mjs', ['--to', String(bareWebApi.port)]);
  /** The HTTP proxies (their requests are the hops); the TCP relay's CPU is counted with them. */
  const bareProxies = [bareFront, bareSidecar];
  return {
    relay: bareDbRelay,
    sidecar: bareSidecar,
    front: bareFront,
    proxies: bareProxies,
    stop: () => Promise.all([bareFront.stop(), bareSidecar.stop(), bareWebApi.stop(), bareArticles.stop(), bareDbRelay.stop()]),
  };
}

/** Requests proxied per getmultiple (`count()` before and after a few sequential getmultiple calls to `url`). */
async function hopsPerCall(count, url) {
  const probeRequests = 10;
  const before = await count();
  for (let i = 0; i < probeRequests; i++) await getJson(url);
  return round(((await count()) - before) / probeRequests, 2);
}

/**
 * 4b. The mesh process at a fixed ≈1000 req/s. getmultiple cannot reach that rate here (the services are
 * the bottleneck), so the load goes through the same gateway to web-app (the ingress route `/`, nginx
 * serving index.html): the mesh's own cost per proxied request at the target rate.
 */
async function meshAtTargetRate(mesh) {
  log('mesh process CPU and RSS at ≈1000 req/s through its gateway (route / → web-app)');
  const appUrl = `${mesh.gateway}/`;
  const appCheck = await fetch(appUrl, { signal: AbortSignal.timeout(5000) });
  if (appCheck.status !== 200) throw new Error(`mesh gateway / answered ${appCheck.status}`);
  await appCheck.text();
  await hey(appUrl, { seconds: T.warm, ...RATE_1000 });
  const hops0 = await meshHops(mesh.admin);
  const stats = sampleProcesses([mesh.pid]);
  const started = Date.now();
  const atTarget = await hey(appUrl, { seconds: T.cpu, ...RATE_1000 });
  const meshStats = stats.stop();
  const hopsPerSecond = ((await meshHops(mesh.admin)) - hops0) / ((Date.now() - started) / 1000);
  return { atTarget, meshStats, hopsPerSecond };
}

export async function wholeStack() {
  const stack = await startDirectStack();
  const nginx = await startNginxInFront(stack);
  const bare = await startBareProxyStack(stack);
  log('starting the local mesh (node mesh/dist/cli.js, istio/base: getmultiple → web-api v1)');
  const mesh = await startMesh();
  const idleRssMb = rssMb(mesh.pid);
  const urls = {
    direct: `http://127.0.0.1:${stack.webApi.port}/web-api/v1/getmultiple`,
    nginx: `http://127.0.0.1:${nginx.port}/web-api/v1/getmultiple`,
    bareProxy: `http://127.0.0.1:${bare.front.port}/web-api/v1/getmultiple`,
    mesh: `${mesh.gateway}/web-api/v1/getmultiple`,
  };
  for (const [label, url] of Object.entries(urls)) await checkGetmultiple(label, url);
  // Proxied hops per getmultiple (gateway + the sidecar calls), from the mesh's own counters over a few
  // sequential requests: turns the mesh's CPU per getmultiple into CPU per hop.
  const hopsPerGetmultiple = await hopsPerCall(() => meshHops(mesh.admin), urls.mesh);
  const bareHopsPerGetmultiple = await hopsPerCall(() => proxiedRequests(bare.proxies), urls.bareProxy);

  const hopsBefore = await meshHops(mesh.admin);
  const measured = await measurePaths(
    'stack',
    // Equal warm-up per stack: direct and nginx share one set of services, while the mesh path runs the mesh and
    // its own copy of the services, all started cold (V8's JIT needs tens of seconds at these rates: 3.5 ms of mesh
    // CPU per getmultiple in the first 6 s, 1.6 ms after 20 s). So the mesh gets as much load before its first
    // measured round as the shared stack has had by then: both warm-ups and the direct and nginx rounds.
    {
      direct: { url: urls.direct, checkAnswers: true, warmSeconds: T.stackWarm },
      nginx: { url: urls.nginx, checkAnswers: true, warmSeconds: T.stackWarm },
      // Its web-api and proxies start cold like the mesh's (its articles and authors are the shared, warm ones).
      bareProxy: {
        url: urls.bareProxy,
        checkAnswers: true,
        sample: () => [bare.front.pid, bare.sidecar.pid, bare.relay.pid],
        sampleEach: () => ({ front: bare.front.pid, sidecar: bare.sidecar.pid, postgresRelay: bare.relay.pid }),
        warmSeconds: 2 * (T.stackWarm + T.stackWrk),
      },
      mesh: { url: urls.mesh, checkAnswers: true, sample: () => [mesh.pid], warmSeconds: 2 * (T.stackWarm + T.stackWrk) },
    },
    { rate: RATE_STACK, wrkConnections: STACK_CONNECTIONS, wrkSeconds: T.stackWrk, heySeconds: T.stackHey },
  );
  const stackHops = (await meshHops(mesh.admin)) - hopsBefore;
  await bare.stop();
  const { atTarget, meshStats, hopsPerSecond } = await meshAtTargetRate(mesh);

  await Promise.all([mesh.stop(), nginx.stop()]);

  await stack.stop();
  return stackResult(measured, { stackHops, hopsPerGetmultiple, bareHopsPerGetmultiple, idleRssMb, atTarget, meshStats, hopsPerSecond });
}

/** The section's JSON: the four paths, their ratios, the floor's CPU per hop and the mesh process's figures. */
function stackResult(measured, { stackHops, hopsPerGetmultiple, bareHopsPerGetmultiple, idleRssMb, atTarget, meshStats, hopsPerSecond }) {
  const { direct, nginx: viaNginx, bareProxy: viaBare, mesh: viaMesh } = measured;
  const degraded = { directAndNginx: direct.answers.degraded + viaNginx.answers.degraded, bareProxy: viaBare.answers.degraded, mesh: viaMesh.answers.degraded };
  const bareCpuPerHop =
    viaBare.throughput.cpuMsPerRequest && bareHopsPerGetmultiple > 0 ? round(viaBare.throughput.cpuMsPerRequest / bareHopsPerGetmultiple, 4) : null;
  return {
    stack: {
      description:
        'getmultiple (web-api v1: 5 articles, one authors call per distinct author); direct = web-api with ARTICLES_URL/AUTHORS_URL on the services; nginx = proxy_pass (keepalive) in front of that web-api; mesh = node mesh/dist/cli.js gateway, istio/base, every service call through its sidecar',
      direct,
      nginx: viaNginx,
      bareProxy: viaBare,
      mesh: viaMesh,
      degradedAnswers: degraded,
      degradedAnswerSamples: { direct: direct.answers, nginx: viaNginx.answers, bareProxy: viaBare.answers, mesh: viaMesh.answers },
      throughputRatio: {
        meshVsNginx: ratio(viaMesh.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
        meshVsDirect: ratio(viaMesh.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        nginxVsDirect: ratio(viaNginx.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        bareProxyVsDirect: ratio(viaBare.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
        bareProxyVsNginx: ratio(viaBare.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
        meshVsBareProxy: ratio(viaMesh.throughput.requestsPerSecond, viaBare.throughput.requestsPerSecond),
      },
      addedLatencyMs: {
        mesh: { p50: minus(viaMesh.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaMesh.latency.p99Ms, direct.latency.p99Ms) },
        nginx: { p50: minus(viaNginx.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaNginx.latency.p99Ms, direct.latency.p99Ms) },
        bareProxy: { p50: minus(viaBare.latency.p50Ms, direct.latency.p50Ms), p99: minus(viaBare.latency.p99Ms, direct.latency.p99Ms) },
      },
      // The floor: both bare proxies' CPU per getmultiple during the wrk runs ÷ the requests they proxied per getmultiple.
      bareProxyCpu: {
        hopsPerGetmultiple: bareHopsPerGetmultiple,
        cpuMsPerGetmultiple: viaBare.throughput.cpuMsPerRequest,
        cpuMsPerGetmultipleByProcess: viaBare.throughput.cpuMsPerRequestByProcess,
        cpuMsPerHopAtFullLoad: bareCpuPerHop,
      },
    },
    meshProcess: {
      description:
        'the mesh CLI process alone (/proc/<pid>/stat and status; its children not included) at a fixed ≈1000 req/s through its gateway, route / → web-app',
      duringGetmultiple: {
        requestsPerSecond: viaMesh.latency.requestsPerSecond,
        proxiedHops: stackHops,
        hopsPerGetmultiple,
        // At full load (the wrk runs): the mesh process's CPU per getmultiple ÷ hops per getmultiple.
        cpuMsPerHopAtFullLoad:
          viaMesh.process?.cpuMsPerRequest && hopsPerGetmultiple > 0 ? round(viaMesh.process.cpuMsPerRequest / hopsPerGetmultiple, 4) : null,
        ...viaMesh.process,
      },
      targetRequestsPerSecond: RATE_1000.concurrency * RATE_1000.perWorker,
      achievedRequestsPerSecond: atTarget.requestsPerSecond,
      latency: atTarget,
      proxiedHopsPerSecond: round(hopsPerSecond, 0),
      cpuCores: meshStats.cpuCores,
      cpuCoresPer1000Hops: hopsPerSecond > 0 ? round((meshStats.cpuCores / hopsPerSecond) * 1000, 3) : null,
      rssMbIdle: idleRssMb,
      rssMbMax: meshStats.rssMbMax,
      rssMbMean: meshStats.rssMbMean,
    },
  };
}
