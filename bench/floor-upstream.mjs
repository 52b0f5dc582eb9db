// The floor's in-memory upstream (issue 10): plain `express()` (ETag and x-powered-by off) answering recorded JSON
// for exact request URLs: the answers the real articles or authors service gave the bench, in this run, to the
// calls web-api makes (bench/lib/floor-calls.mjs). With bench/floor-web-api.mjs in front: the ceiling of the call
// pattern itself on this machine (Node's HTTP stack on both ends, nothing of ours). Unknown URL: 404.
// Prints `listening <port>`. Usage: node floor-upstream.mjs <answers.json>   ({ "/path?query": body, ... })
import fs from 'node:fs';
import { createRequire } from 'node:module';

const express = createRequire(import.meta.url)('express');
const answers = new Map(Object.entries(JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))));
const app = express();
app.set('etag', false);
app.set('x-powered-by', false);
// One route per recorded path, as the real services route by path and then read the query.
for (const routePath of new Set([...answers.keys()].map((url) => url.split('?', 1)[0]))) {
  app.get(routePath, (req, res) => {
    const body = answers.get(req.originalUrl);
    if (body === undefined) res.status(404).json({ message: 'not recorded' });
    else res.json(body);
  });
}
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
