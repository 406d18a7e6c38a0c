/**
 * The hosted page offline, as a school gets it: one visit to the built site under a sub-path, then the server is
 * stopped (the network gone) and the page reloaded: it opens from the service worker's precache (the page, its
 * workers, the WASM binaries, the built-in models and the demo data) and runs the class demo to its result. Then a
 * "new deploy" (the service worker's script changed) is served again: the next online visit shows the "new
 * version" notice, and its Reload button brings the new version in.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/fixtures';
import { launch, screenshot, watchConsole } from './browser';
import { serveStatic, type StaticServer } from './staticServer';

const PREFIX = '/school/mcldef/';
/** Waits until the model card's live BA shows (the page is ready). */
const ready = (page: Page) => page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });

describe('the built site offline', () => {
  // A copy of the build the suite's setup made, so the test can change it (a new deploy) without touching dist/.
  const site = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-offline-'));
  let server: StaticServer | undefined;
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    fs.cpSync(path.join(repoRoot, 'dist'), site, { recursive: true });
    expect(fs.existsSync(path.join(site, 'sw.js')), 'the build has no service worker').toBe(true);
    server = await serveStatic(site, PREFIX);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
    log = watchConsole(page);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(site, { recursive: true, force: true });
  });

  it('after one visit, reloads with the server gone and runs the class demo to its result', async () => {
    const url = `${server!.url}?evalSize=20`;
    await page.goto(url);
    await ready(page);
    // The service worker is active once its precache holds every file of the build.
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.ready).active)).toBe(true);
    const port = server!.port;
    await server!.close();
    server = undefined;
    await expect(fetch(url)).rejects.toThrow(); // the network is gone for this site

    await page.reload();
    await ready(page);
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page was not served by the service worker').toBe(true);
    await page.getByTestId('estimate').waitFor({ timeout: 120_000 });
    await page.getByTestId('purify').click();
    await page.getByTestId('result').waitFor({ timeout: 1_500_000 });
    await screenshot(page, 'offline-class-demo-done');
    expect(await page.getByTestId('error').count(), log.join('\n')).toBe(0);

    // A new deploy: the service worker's script differs. The next online visit finds it and says so.
    fs.appendFileSync(path.join(site, 'sw.js'), '\n// a new deploy\n');
    server = await serveStatic(site, PREFIX, port);
    await page.reload();
    await ready(page);
    const notice = page.getByTestId('new-version');
    await notice.waitFor({ timeout: 120_000 });
    expect(await notice.textContent()).toMatch(/A new version of this page is available/);
    await Promise.all([page.waitForEvent('load', { timeout: 120_000 }), page.getByTestId('new-version-reload').click()]);
    await ready(page);
    expect(await notice.count()).toBe(0);
  }, 1_800_000);
});
