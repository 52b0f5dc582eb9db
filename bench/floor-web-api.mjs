// The services' floor (issue 10): the least a web-api can do to answer getmultiple with the design's parts.
// Plain `express()` (ETag and x-powered-by off, as service-kit sets them) and a plain `node:http` keep-alive
// Agent as the client: no axios, no service-kit middleware, no validation, metrics, logging, tracing or
// deadline. It makes exactly the upstream calls web-api makes (bench/lib/floor-calls.mjs) and merges them into
// the same answer; the bench checks that it answers the same JSON as web-api.
// Prints `listening <port>`. Usage: node floor-web-api.mjs v1|v2 ARTICLES_URL AUTHORS_URL
import http from 'node:http';
import { createRequire } from 'node:module';
import { articlesPath, authorKey, authorPaths, distinctAuthors, merge } from './lib/floor-calls.mjs';

const express = createRequire(import.meta.url)('express');
const [version, articlesUrl, authorsUrl] = process.argv.slice(2);
if (version !== 'v1' && version !== 'v2') throw new Error('usage: node floor-web-api.mjs v1|v2 ARTICLES_URL AUTHORS_URL');
const articles = new URL(articlesUrl);
const authors = new URL(authorsUrl);

// One keep-alive pool for both upstreams, like service-kit's http-client.
const agent = new http.Agent({ keepAlive: true });

/** GET a path of `base`: { status, body } with the JSON body parsed. */
function getJson(base, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, path, agent, headers: { accept: 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const app = express();
app.set('etag', false);
app.set('x-powered-by', false);
app.get('/web-api/v1/getmultiple', async (_req, res, next) => {
  try {
    const { body: list } = await getJson(articles, articlesPath(version));
    const found = new Map();
    // v1: one call per author, in parallel; v2: one batch call ({ authors: [...] }). 404 = unknown author.
    const answers = await Promise.all(authorPaths(version, distinctAuthors(list)).map((path) => getJson(authors, path)));
    for (const { status, body } of answers)
      if (status === 200) for (const author of version === 'v2' ? body.authors : [body]) found.set(authorKey(author.name), author);
    res.json(merge(list, found));
  } catch (error) {
    next(error);
  }
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
