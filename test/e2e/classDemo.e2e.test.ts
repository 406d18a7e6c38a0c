/**
 * The class demo as a teacher gets it: the page at its defaults (the "Class demo" preset, the backend it chose by
 * timing: WASM here), nothing clicked but Purify, run to the end. Checks the result, not the time (bench:page
 * prints that): the backdoor is gone (ASR at most 5% on the whole 1,000-image demo set) and BA stays within
 * 3 points; the mask, the ETA and the result appear; the report says which preset ran.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openReadyPage, screenshot } from './browser';

const baseUrl = inject('baseUrl');

describe('the class demo preset', () => {
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    ({ browser, page, log } = await openReadyPage(baseUrl));
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('removes the backdoor from the default model with nothing set but Purify', async () => {
    expect(await page.getByTestId('preset-quick').isChecked()).toBe(true);
    await page.getByTestId('estimate').waitFor({ timeout: 120_000 });
    await page.getByTestId('purify').click();
    await page.getByTestId('mask-canvas').locator('canvas').first().waitFor({ timeout: 120_000 });
    await page.getByTestId('eta').waitFor({ timeout: 120_000 });
    await page.getByTestId('result').waitFor({ timeout: 1_500_000 });
    await screenshot(page, 'class-demo-done');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByRole('button', { name: /report \(JSON\)/ }).click()]);
    const report = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    const { before, after, config } = report.summary;
    expect(report.settings.preset).toBe('quick');
    expect(config.inversion.converge).not.toBeNull();
    expect(after.nClean, log.join('\n')).toBe(1000); // the whole demo set at the end
    expect(before.asrTrue).toBeGreaterThan(0.95);
    expect(after.asrTrue).toBeLessThanOrEqual(0.05);
    expect(after.ba).toBeGreaterThanOrEqual(before.ba - 0.03);
  }, 1_800_000);
});
