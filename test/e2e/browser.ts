/** Launches Debian's Chromium headless with WebGPU (SwiftShader here) through playwright-core. */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/fixtures';

export const artifactsDir = path.join(repoRoot, 'test-results', 'e2e');

/** Path of the Chromium binary: $CHROMIUM_PATH or Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  const p = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(p)) throw new Error(`Chromium not found at ${p}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return p;
}

/** Starts Chromium; `webgpu: false` hides WebGPU to exercise the fallback. */
export async function launch(opts: { webgpu?: boolean } = {}): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ];
  if (opts.webgpu !== false) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader');
  else args.push('--disable-features=WebGPU');
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/** Collects console errors and page errors so a test can print them when it fails. */
export function watchConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') lines.push(`[${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  return lines;
}

/** Saves a screenshot under test-results/e2e/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Launches Chromium, opens the page at `url` and waits until the model's live BA shows (the page is ready). */
export async function openReadyPage(url: string): Promise<{ browser: Browser; page: Page; log: string[] }> {
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
  const log = watchConsole(page);
  await page.goto(url);
  await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });
  return { browser, page, log };
}
