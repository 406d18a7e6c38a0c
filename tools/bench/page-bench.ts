/**
 * bench:page: the class demo as a visitor gets it. Builds the site, serves it under a sub-path, opens it in headless
 * Chromium (WebGPU on, as on a real visit; here that is a software adapter) at the page's defaults, clicks
 * Purify and prints: the backend the page chose and why, how long the live check and the first inverted mask took,
 * the estimate shown before the click against the real time from click to result, how far the running ETA was
 * off, and BA / ASR before and after (from the page's own report download).
 *
 * Run: npm run bench:page [-- "?extra=query"]
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { repoRoot } from '../../src/platform/node/paths';

const query = process.argv[2] ?? '';
const base = '/demo/sub/';
const outDir = path.join(repoRoot, '.cache', 'bench-page');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : '-');

await build({ base, logLevel: 'warn', build: { outDir } });
const server = await preview({ base, build: { outDir }, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
const address = server.httpServer.address();
const port = typeof address === 'object' && address ? address.port : 4173;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
  const tLoad = Date.now();
  await page.goto(`http://127.0.0.1:${port}${base}${query}`);
  await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 600_000 });
  const liveCheck = Date.now() - tLoad;
  await page.getByTestId('estimate').waitFor({ timeout: 600_000 });
  const estimateText = (await page.getByTestId('estimate').innerText()).trim();
  const estimate = Number(await page.getByTestId('estimate').getAttribute('data-seconds'));
  const ready = Date.now() - tLoad;
  await page.getByTestId('purify').click();
  const t0 = Date.now();
  await page.getByTestId('mask-canvas').waitFor({ timeout: 600_000 });
  const firstMask = Date.now() - t0;
  // Sample the running ETA until the result shows.
  const etaSamples: Array<{ at: number; left: number }> = [];
  const result = page.getByTestId('result');
  while (!(await result.isVisible())) {
    const eta = page.getByTestId('eta');
    const left = (await eta.count()) ? Number(await eta.getAttribute('data-seconds')) : NaN;
    if (Number.isFinite(left)) etaSamples.push({ at: Date.now() - t0, left });
    await page.waitForTimeout(2000);
  }
  const total = Date.now() - t0;
  const download = page.waitForEvent('download', { timeout: 60_000 });
  await page.getByRole('button', { name: /report \(JSON\)/ }).click();
  const file = path.join(outDir, 'report.json');
  await (await download).saveAs(file);
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const s = report.summary;
  // ETA error: |shown remaining - true remaining| / true remaining, over samples with at least 10 s to go.
  const errors = etaSamples.filter((e) => total - e.at >= 10_000).map((e) => Math.abs(e.left * 1000 - (total - e.at)) / (total - e.at));
  const worst = errors.length ? Math.max(...errors) : NaN;
  console.log(`backend   ${report.backend.backend}: ${report.backend.why ?? ''}`);
  console.log(`settings  preset ${report.settings.preset}${query ? ` + ${query}` : ''}`);
  console.log(`page      live check after ${secs(liveCheck)}, ready to click after ${secs(ready)}; estimate shown: "${estimateText}"`);
  console.log(`run       first inverted mask ${secs(firstMask)} after the click; result ${secs(total)} after the click (estimate ${secs(estimate * 1000)}, off by ${(100 * (estimate * 1000 - total) / total).toFixed(0)}%)`);
  console.log(`eta       ${etaSamples.length} samples, worst error ${(100 * worst).toFixed(0)}% (samples with >= 10 s left)`);
  console.log(`eta       (at s: shown / true seconds left) ${etaSamples.filter((_, i) => i % 3 === 0).map((e) => `${(e.at / 1000).toFixed(0)}: ${e.left.toFixed(0)}/${((total - e.at) / 1000).toFixed(0)}`).join(', ')}`);
  console.log(`stages    ${s.timings.map((t: { stage: string; seconds: number }) => `${t.stage} ${t.seconds.toFixed(1)} s`).join(', ')}`);
  console.log(`before    BA ${pct(s.before?.ba)}  ASR ${pct(s.before?.asrTrue)}  (${s.before?.nClean} images)`);
  console.log(`after     BA ${pct(s.after?.ba)}  ASR ${pct(s.after?.asrTrue)}  (${s.after?.nClean} images)`);
  console.log(`page ${secs(total)} click to result on ${report.backend.backend}; BA ${pct(s.before?.ba)} -> ${pct(s.after?.ba)}, ASR ${pct(s.before?.asrTrue)} -> ${pct(s.after?.asrTrue)}`);
} finally {
  await browser.close();
  server.httpServer.close();
}
