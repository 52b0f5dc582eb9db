// Section 1 of `npm run bench`: the gateway alone vs nginx (split_clients 80/20) vs direct vs a bare Node proxy (the
// floor), in front of static upstreams.
import { measurePaths, minus, ratio } from '../lib/harness.mjs';
import { startHelper, startNginx } from '../lib/processes.mjs';
import { RATE_1000 } from '../lib/settings.mjs';

export async function gatewayAlone() {
  const [v1, v2] = await Promise.all([startHelper('upstream-v1', 'static-upstream.mjs', ['v1']), startHelper('upstream-v2', 'static-upstream.mjs', ['v2'])]);
  const gateway = await startHelper('dataplane-gateway', 'gateway-proxy.mjs', [String(v1.port), String(v2.port)]);
  // The design's floor: node:http + undici with the same split and nothing else (bench/bare-proxy.mjs).
  const bareProxy = await startHelper('bare-proxy-gateway', 'bare-proxy.mjs', ['--split', String(v1.port), String(v2.port)]);
  const nginx = await startNginx(
    'nginx-gateway',
    `  upstream web_api_v1 { server 127.0.0.1:${v1.port}; keepalive 64; }
  upstream web_api_v2 { server 127.0.0.1:${v2.port}; keepalive 64; }
  split_clients "\${request_id}" $web_api { 80% web_api_v1; * web_api_v2; }
  server {
    listen 127.0.0.1:{{port}};
    location /web-api/ {
      proxy_pass http://$web_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const path_ = '/web-api/v1/getmultiple';
  const measured = await measurePaths(
    'gateway',
    {
      direct: { url: `http://127.0.0.1:${v1.port}${path_}` },
      nginx: { url: `http://127.0.0.1:${nginx.port}${path_}`, sample: () => nginx.workerPids() },
      bareProxy: { url: `http://127.0.0.1:${bareProxy.port}${path_}`, sample: () => [bareProxy.pid] },
      dataplane: { url: `http://127.0.0.1:${gateway.port}${path_}`, sample: () => [gateway.pid] },
    },
    { rate: RATE_1000 },
  );
  const { direct, nginx: viaNginx, bareProxy: viaBare, dataplane: viaDataplane } = measured;
  await Promise.all([v1.stop(), v2.stop(), gateway.stop(), bareProxy.stop(), nginx.stop()]);
  const added = (m) => ({ p50: minus(m.latency.p50Ms, direct.latency.p50Ms), p99: minus(m.latency.p99Ms, direct.latency.p99Ms) });
  const cpu = (m) => m.process?.cpuMsPerRequest ?? null;
  return {
    description:
      "static 5-article JSON upstreams (bare node:http); /web-api/ split 80/20 v1/v2 by the data plane (VirtualService weights), by nginx (split_clients, keepalive 64, 1 worker) and by the bare Node proxy (bench/bare-proxy.mjs: node:http + undici Pool, the design's floor)",
    direct,
    nginx: viaNginx,
    bareProxy: viaBare,
    dataplane: viaDataplane,
    throughputRatio: {
      dataplaneVsNginx: ratio(viaDataplane.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
      dataplaneVsDirect: ratio(viaDataplane.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
      nginxVsDirect: ratio(viaNginx.throughput.requestsPerSecond, direct.throughput.requestsPerSecond),
      bareProxyVsNginx: ratio(viaBare.throughput.requestsPerSecond, viaNginx.throughput.requestsPerSecond),
      dataplaneVsBareProxy: ratio(viaDataplane.throughput.requestsPerSecond, viaBare.throughput.requestsPerSecond),
    },
    addedLatencyMs: { dataplane: added(viaDataplane), nginx: added(viaNginx), bareProxy: added(viaBare) },
    cpuMsPerRequest: {
      dataplane: cpu(viaDataplane),
      nginx: cpu(viaNginx),
      bareProxy: cpu(viaBare),
      dataplaneVsNginx: ratio(cpu(viaDataplane), cpu(viaNginx)),
      dataplaneVsBareProxy: ratio(cpu(viaDataplane), cpu(viaBare)),
    },
  };
}
