/**
 * A plain static file server for the built site, as an ordinary static host would serve it: under a sub-path and
 * with no special headers. The e2e suite's global setup serves dist/ with it; the offline test starts and stops
 * its own.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.bin': 'application/octet-stream', '.mcld': 'application/octet-stream',
};

/** A running server: its address, the site's URL, and close() (which also drops open keep-alive connections). */
export interface StaticServer {
  port: number;
  /** http://127.0.0.1:PORT/PREFIX */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the folder `root` under `prefix` (e.g. "/mcldef/demo/") on 127.0.0.1, on `port` (0: any free one).
 * Outside the prefix, and for missing files, it answers 404.
 */
export async function serveStatic(root: string, prefix: string, port = 0): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (!url.startsWith(prefix)) {
      res.writeHead(404).end('not under the site prefix');
      return;
    }
    let file = path.join(root, url.slice(prefix.length) || 'index.html');
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}${prefix}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
