// Benchmark upstream (BENCHMARKS.md baseline): a bare node:http server answering every request with the same
// 5-article JSON, the shape getmultiple returns. Prints `listening <port>`. Usage: node static-upstream.mjs [id]
import http from 'node:http';

const id = process.argv[2] ?? 'upstream';
const body = JSON.stringify(
  Array.from({ length: 5 }, (_, i) => ({
    id: String(i + 1),
    title: `Article ${i + 1}`,
    url: `https://articles.example/${i + 1}`,
    authorName: `Author ${i + 1}`,
    authorBlog: `https://author${i + 1}.example`,
    authorTwitter: `@author${i + 1}`,
    servedBy: id,
  })),
);
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-served-by': id });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
