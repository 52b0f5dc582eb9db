// The design's floor for the mesh (issue 10): what any Node sidecar or gateway built like the local mesh's data plane
// must do, and nothing else — a `node:http` server, one undici Pool per upstream origin (keep-alive, the same
// options as the data plane's), hop-by-hop headers dropped both ways, bodies streamed with back-pressure. No mesh
// code: no routing tables, no header rules, no records, metrics or traces. Prints `listening <port>`.
//
//   node bare-proxy.mjs --split <v1-port> <v2-port>   every request to 127.0.0.1, 80 % to v1 and 20 % to v2 (the gateway)
//   node bare-proxy.mjs --to <port>                   every origin-form request to 127.0.0.1:<port> (a front door)
//   node bare-proxy.mjs                               a forward proxy only (a workload's HTTP_PROXY)
//   node bare-proxy.mjs --tcp <port>                  a TCP relay to 127.0.0.1:<port> (a sidecar's outbound TCP
//                                                     listener, e.g. articles → PostgreSQL)
//
// In every mode an absolute-form request (`GET http://host:port/path`, what a client sends to its HTTP_PROXY) goes to
// the origin in its URI, as a sidecar's outbound listener forwards by the Host it was asked for.
// SIGUSR2 prints `requests <n>`: the requests proxied so far (the bench's hop count).
import http from 'node:http';
import net from 'node:net';
import { Pool } from 'undici';

const args = process.argv.slice(2);
const option = (name, count) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.slice(i + 1, i + 1 + count).map(Number);
};
const split = option('--split', 2);
const to = option('--to', 1);
const tcp = option('--tcp', 1);

// RFC 9110 §7.6.1: connection-specific fields, plus whatever the Connection header names.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const pools = new Map();
const pool = (origin) => {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, { pipelining: 1, keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });
    pools.set(origin, p);
  }
  return p;
};
const local = (port) => `http://127.0.0.1:${port}`;
const frontOrigin = split ? () => local(Math.random() < 0.8 ? split[0] : split[1]) : to ? () => local(to[0]) : undefined;

/** Raw header pairs without the hop-by-hop ones (and those the Connection header names), names lower-cased. */
function endToEnd(raw, toString) {
  const out = [];
  let connection;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = toString(raw[i]).toLowerCase();
    if (lower === 'connection') connection = connection === undefined ? toString(raw[i + 1]) : `${connection},${toString(raw[i + 1])}`;
    if (!HOP_BY_HOP.has(lower)) out.push(lower, toString(raw[i + 1]));
  }
  // `keep-alive` and `close` name no header; anything else named there is connection-specific too.
  const named = connection
    ?.split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t && t !== 'keep-alive' && t !== 'close');
  if (!named?.length) return out;
  const kept = [];
  for (let i = 0; i < out.length; i += 2) if (!named.includes(out[i])) kept.push(out[i], out[i + 1]);
  return kept;
}
const asIs = (s) => s;
const latin1 = (b) => b.toString('latin1');

let proxied = 0;
const IGNORE = () => {};

function fail(res, status, message) {
  if (res.headersSent) return res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
}

function handle(req, res) {
  let origin;
  let path = req.url;
  if (path.startsWith('http://')) {
    const url = URL.parse(path);
    if (!url) return fail(res, 400, 'bad request URI');
    origin = url.origin;
    path = url.pathname + url.search;
  } else if (frontOrigin) {
    origin = frontOrigin();
  } else {
    return fail(res, 400, 'a forward proxy: send the absolute URI');
  }
  proxied++;
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  let abort;
  let resume;
  // A client that goes away mid-answer must not crash the proxy, and its upstream request is cut.
  req.on('error', IGNORE);
  res.on('error', IGNORE);
  res.on('close', () => {
    if (!res.writableFinished) abort?.(new Error('client went away'));
  });
  pool(origin).dispatch(
    { path, method: req.method, headers: endToEnd(req.rawHeaders, asIs), body: hasBody ? req : null },
    {
      onConnect(abortUpstream) {
        abort = abortUpstream;
      },
      onHeaders(status, rawHeaders, resumeUpstream) {
        if (status < 200) return true;
        resume = resumeUpstream;
        res.writeHead(status, endToEnd(rawHeaders, latin1));
        return true;
      },
      onData(chunk) {
        if (res.write(chunk)) return true;
        res.once('drain', resume);
        return false;
      },
      onComplete() {
        res.end();
      },
      onError(error) {
        fail(res, 502, `upstream: ${error.message}`);
      },
    },
  );
}

/** Bytes both ways with back-pressure (pipe); either side closing or failing closes the other. */
function relay(client) {
  const upstream = net.connect(tcp[0], '127.0.0.1');
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
  client.pipe(upstream).pipe(client);
}

const server = tcp ? net.createServer(relay) : http.createServer(handle);
if (!tcp) {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGUSR2', () => console.log(`requests ${proxied}`));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.all([...pools.values()].map((p) => p.close())).finally(() => process.exit(0));
});
