// The services' baseline (issue 10, BENCHMARKS.md): a bare Express 5 app with one route answering the JSON
// it is given (the same 5-article body web-api v1's getmultiple returns, captured by the bench in the same
// run). Plain `express()`: no service-kit middleware, ETag and x-powered-by off as in service-kit.
// Prints `listening <port>`. Usage: node bare-express.mjs <file.json>
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const express = require('express');

const articles = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const app = express();
app.set('etag', false);
app.set('x-powered-by', false);
app.get('/web-api/v1/getmultiple', (_req, res) => {
  res.json(articles);
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
