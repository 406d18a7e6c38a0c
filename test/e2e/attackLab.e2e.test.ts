/**
 * The attack lab end to end in a real browser (WASM, tiny budgets): draw a trigger on the canvas, plant it into the
 * clean model, see the poisoned strip and the chart, make the planted model the page's model, defend it, and find
 * the trigger's row on the scoreboard with its figures after planting and after the defense.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openReadyPage, screenshot } from './browser';

const baseUrl = inject('baseUrl');
// FT with one short epoch on 10 clean images and 20 evaluation images: the defense's part stays small.
const TINY = '?backend=wasm&method=ft&epochs=1&cleanLimit=10&evalSize=20&probe=0&refresh=20';

describe('Attack lab in the browser', () => {
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    ({ browser, page, log } = await openReadyPage(baseUrl + TINY));
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('draws a trigger, plants it, defends it, and scores it', async () => {
    await page.locator('[data-testid="attack-lab"] > summary').click();
    await page.getByTestId('trigger-clear').click();
    await page.getByTestId('tool-square').check();
    // A 4x4 square with its top-left pixel at row 3, column 24 (10 screen pixels per trigger pixel).
    await page.getByTestId('trigger-canvas').click({ position: { x: 24 * 10 + 5, y: 3 * 10 + 5 } });
    await page.getByTestId('tool-pencil').check();
    await page.getByTestId('trigger-canvas').click({ position: { x: 5, y: 315 } }); // one more pixel: row 31, column 0
    await page.getByTestId('lab-steps').fill('3');
    await page.getByTestId('lab-rate').fill('0.25');
    await page.getByTestId('plant').click();
    await page.getByTestId('plant-status').filter({ hasText: /^Planted/ }).waitFor({ timeout: 300_000 });
    expect(await page.getByTestId('plant-status').textContent(), log.join('\n')).toMatch(/^Planted: step 3 of 3, loss [\d.]+; BA [\d.]+%, ASR [\d.]+%/);
    expect(await page.locator('[aria-label="Poisoned training images"] canvas').count()).toBe(8);
    expect(await page.getByTestId('plant-chart').locator('svg').count()).toBeGreaterThan(0);
    // The small trigger travels in the address.
    expect(new URL(page.url()).searchParams.get('trigger')).toMatch(/^[A-Za-z0-9_-]+$/);
    await expect.poll(() => page.getByTestId('scoreboard').locator('tbody tr').count(), { timeout: 60_000 }).toBe(1);
    const row = page.getByTestId('scoreboard').locator('tbody tr').first();
    expect(await row.locator('td').first().textContent()).toBe('your trigger (17 px)');
    await expect.poll(() => page.getByTestId('defend-it').isEnabled(), { timeout: 300_000 }).toBe(true);
    await page.locator('.busy').waitFor({ state: 'detached', timeout: 300_000 });
    await page.getByTestId('defend-it').click();
    await page.getByTestId('result').waitFor({ timeout: 400_000 });
    await expect.poll(() => row.locator('td').nth(5).textContent(), { timeout: 60_000 }).toBe('ft');
    const cells = await row.locator('td').allTextContents();
    console.log(`[attack lab e2e] scoreboard row: ${cells.join(' | ')}`);
    for (const i of [3, 4, 6, 7]) expect(cells[i]).toMatch(/^[\d.]+%$/);
    await screenshot(page, 'attack-lab');
    const [csv] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByTestId('scores-csv').click()]);
    expect(csv.suggestedFilename()).toBe('attack-lab-scoreboard.csv');
  });
});
