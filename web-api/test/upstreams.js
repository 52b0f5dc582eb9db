"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.listen = listen;
exports.json = json;
exports.deadUrl = deadUrl;
// Fake and real upstreams for web-api tests, all on loopback port 0.
const node_http_1 = __importDefault(require("node:http"));
/** Listens on a free loopback port with any request listener (a plain handler or an Express app). */
async function listen(handler) {
    const requests = [];
    const server = node_http_1.default.createServer((req, res) => {
        requests.push({ method: req.method, url: req.url, headers: req.headers });
        handler(req, res);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => {
            server.closeAllConnections();
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}
/** A handler that answers JSON (or never answers when `status` is `'hang'`). */
function json(status, body) {
    return (_req, res) => {
        if (status === 'hang')
            return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
    };
}
/** A URL on which nothing listens (a port that was free a moment ago). */
async function deadUrl() {
    const upstream = await listen(json(200, {}));
    await upstream.close();
    return upstream.url;
}
//# sourceMappingURL=upstreams.js.map