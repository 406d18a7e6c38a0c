/**
 * Builds the site once and serves dist/ from a plain static file server under a sub-path (/mcldef/demo/) and with
 * no special headers, as an ordinary static host would: the tests thereby also check that the build works away
 * from the host's root.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { build } from 'vite';

const PREFIX = '/mcldef/demo/';
const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.bin': 'application/octet-stream', '.mcld': 'application/octet-stream',
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await build({ logLevel: 'warn' });
  const root = path.resolve('dist');
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (!url.startsWith(PREFIX)) {
      res.writeHead(404).end('not under the site prefix');
      return;
    }
    let file = path.join(root, url.slice(PREFIX.length) || 'index.html');
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  project.provide('baseUrl', `http://127.0.0.1:${port}${PREFIX}`);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}
