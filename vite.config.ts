import react from '@vitejs/plugin-react';
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * Cross-origin isolation (COOP/COEP) lets browsers use SharedArrayBuffer, which the threaded SIMD build of the
 * TF.js WASM backend needs. A static host must send the same two headers (see README).
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Serves the top-level models/ folder at <base>models/ in dev and copies it into the build. */
function modelsFolder(): Plugin {
  const root = path.resolve(import.meta.dirname, 'models');
  let outDir = path.resolve(import.meta.dirname, 'dist');
  return {
    name: 'mcldef-models-folder',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/models', (req, res, next) => {
        const file = path.join(root, decodeURIComponent((req.url ?? '').split('?')[0]));
        if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return next();
        res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : file.endsWith('.png') ? 'image/png' : 'application/octet-stream');
        fs.createReadStream(file).pipe(res);
      });
    },
    closeBundle() {
      if (fs.existsSync(root)) fs.cpSync(root, path.join(outDir, 'models'), { recursive: true });
    },
  };
}

export default defineConfig({
  // Relative base: the built site works from any static host under any path.
  base: './',
  plugins: [react(), modelsFolder()],
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
