/**
 * Benchmark upstream: a bare node:http server answering every request with the same 5-article JSON
 * (the shape getmultiple returns). Prints `listening <port>` once ready. Usage: node static-upstream.js [id]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const id = process.argv[2] ?? 'upstream';
const body = JSON.stringify(
  Array.from({ length: 5 }, (_, i) => ({ id: i + 1, title: `Article ${i + 1}`, author: `Author ${i + 1}`, served_by: id })),
);
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
