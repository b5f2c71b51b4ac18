// A development server for the web view, until (and besides) the engine serving it
// itself: the built files (index.html, app.js, app.css) at /, and the engine's API
// (/v1/..., /readyz, /healthz, /metrics) passed through to the engine, so that the page
// and the API share one origin, as they do when `guanxi run --http` serves both.
//
//   node tests/web/serve.mjs --root OUTDIR --engine http://127.0.0.1:8080 [--port 8720]
//
// Node's standard library only. Binds to 127.0.0.1. Requests and answers pass through
// unchanged (the Authorization header, 401, 503 and Retry-After included), but for one
// thing: the browser's Accept-Encoding loses "br", unless --brotli. The engine's HTTP
// library compresses brotli at its slowest setting: 10 s for a page of 1000 customers
// (5.8 MB of JSON) where gzip takes 0.4 s (measured on the 2-core machine).

import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    engine: { type: 'string' },
    port: { type: 'string', default: '8720' },
    brotli: { type: 'boolean', default: false },
  },
});
if (!values.root || !values.engine) {
  console.error('usage: node serve.mjs --root OUTDIR --engine URL [--port PORT] [--brotli]');
  process.exit(2);
}
const root = path.resolve(values.root);
const engine = new URL(values.engine);

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const API = /^\/(v1\/|readyz$|healthz$|metrics$)/;

function withoutBrotli(acceptEncoding) {
  return acceptEncoding
    .split(',')
    .map((e) => e.trim())
    .filter((e) => !/^br(;|$)/.test(e))
    .join(', ');
}

function proxy(req, res) {
  const headers = { ...req.headers, host: engine.host };
  if (!values.brotli && headers['accept-encoding']) headers['accept-encoding'] = withoutBrotli(headers['accept-encoding']);
  const upstream = http.request(
    { host: engine.hostname, port: engine.port, path: req.url, method: req.method, headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (error) => {
    res.writeHead(502, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: `the engine at ${engine.host} did not answer: ${error.message}` }));
  });
  req.pipe(upstream);
}

async function file(req, res) {
  const name = new URL(req.url, 'http://x').pathname === '/' ? 'index.html' : new URL(req.url, 'http://x').pathname.slice(1);
  // Only the bundle's own files: no directories, no way out of root.
  if (!/^[\w.-]+$/.test(name) || !TYPES[path.extname(name)]) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
    return;
  }
  try {
    const body = await fs.readFile(path.join(root, name));
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(name)], 'Cache-Control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }
}

const server = http.createServer((req, res) => {
  if (API.test(new URL(req.url, 'http://x').pathname)) proxy(req, res);
  else file(req, res);
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.error(`serve: http://127.0.0.1:${server.address().port}/ (files of ${root}; API of ${engine.origin})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
