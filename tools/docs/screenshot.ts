/**
 * Takes the README's screenshot of a finished run: builds the site, serves it, runs Purify in headless Chromium
 * at the page's defaults (the class demo) or with the settings in QUERY, and saves docs/finished-run.png when the
 * result appears.
 *
 * Run: npm run docs:screenshot [-- "?backend=wasm&..."]
 */
import path from 'node:path';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { repoRoot } from '../../src/platform/node/paths';

// The page's defaults: the class demo preset, on the backend the page chooses by timing.
const query = process.argv[2] ?? '';
await build({ logLevel: 'warn' });
const server = await preview({ preview: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
const address = server.httpServer.address();
const port = typeof address === 'object' && address ? address.port : 4173;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${port}/${query}`);
  await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 600_000 });
  await page.getByTestId('purify').click();
  await page.getByTestId('result').waitFor({ timeout: 3_600_000 });
  await page.getByTestId('per-class').waitFor({ timeout: 600_000 });
  await page.waitForTimeout(1500); // let the last t-SNE refresh settle
  const file = path.join(repoRoot, 'docs', 'finished-run.png');
  await page.screenshot({ path: file, fullPage: true });
  const result = await page.getByTestId('result').locator('table').first().innerText();
  console.log(`saved ${path.relative(repoRoot, file)} after ${((Date.now() - t0) / 1000).toFixed(0)} s with ${query}\n${result}`);
} finally {
  await browser.close();
  server.httpServer.close();
}
