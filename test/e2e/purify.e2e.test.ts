/**
 * Purify end to end in a real browser on WebGPU (SwiftShader here, so a tiny configuration): both stages run while
 * the mask canvas, the t-SNE and the charts update; cancel works; a second run works without a reload and the
 * engine's tensor count does not grow.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fs from 'node:fs';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { readTorchCheckpoint } from '../../src/engine/io/torchCheckpoint';
import { openReadyPage, screenshot } from './browser';

const baseUrl = inject('baseUrl');
// On WebGPU (asked for: the page itself would choose WASM over SwiftShader), so the project's WGSL kernels run in
// the browser: one inversion epoch over 10 clean images, one purification epoch, 20 evaluation images, 2 probes per
// class (20 clean probes: enough for the merge figure's 10 nearest neighbours), the paper preset's schedule.
const TINY = '?preset=paper&backend=webgpu&invEpochs=1&epochs=1&cleanLimit=10&evalSize=20&probe=2&refresh=20';

async function tensors(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const w = window as unknown as { __mcldef?: { memory(): Promise<{ numTensors: number }> } };
    return (await w.__mcldef!.memory()).numTensors;
  });
}

describe('Purify in the browser', () => {
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    ({ browser, page, log } = await openReadyPage(baseUrl + TINY));
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('runs both stages and shows the mask, the t-SNE, the charts and the result', async () => {
    expect(await page.getByTestId('backend').textContent()).toBe('webgpu');
    await page.getByTestId('purify').click();
    await page.getByTestId('mask-canvas').locator('canvas').first().waitFor({ timeout: 300_000 });
    await page.getByTestId('tsne').waitFor({ timeout: 400_000 });
    await page.getByTestId('result').waitFor({ timeout: 400_000 });
    await screenshot(page, 'purify-done');
    expect(await page.getByTestId('inversion-chart').locator('svg').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('purify-chart').locator('svg').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('merge-figure').textContent()).toMatch(/[\d.]+% of the triggered images still sit in a cluster of their own/);
    expect(await page.locator('#merge-chart svg').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('result').locator('table.results:not(.per-class) tbody tr').count(), log.join('\n')).toBe(2);
    // One evaluation, stated: the same images before and after, per class too.
    expect(await page.getByTestId('measured-on').textContent()).toMatch(/^On the same 20 of the 1,000 evaluation images .* before and after, drawn with seed 0/);
    expect(await page.getByTestId('per-class').locator('tbody tr').count()).toBe(10);
  });

  it('downloads the purified model as a PyTorch .pth that loads back with its state_dict', async () => {
    // The files are written from the weights read when the run ended, so a download does not wait for the work the
    // page queues after the result (the strip of images); the generous limit covers a busy machine's slow page.
    const t0 = Date.now();
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByTestId('download-pth').click()]);
    console.log(`[purify e2e] the .pth download came ${((Date.now() - t0) / 1000).toFixed(1)} s after the click`);
    expect(download.suggestedFilename()).toMatch(/purified\.pth$/);
    const file = await download.path();
    const ck = await readTorchCheckpoint(new Uint8Array(fs.readFileSync(file!)));
    expect(ck.format).toBe('zip');
    expect(ck.stateDict.get('fc.weight')?.shape).toEqual([10, 64]);
    expect(ck.stateDict.get('block1.layer.0.conv1.weight')?.shape).toEqual([16, 16, 3, 3]);
    const [st] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByTestId('download-safetensors').click()]);
    expect(readSafetensors(new Uint8Array(fs.readFileSync((await st.path())!))).tensors.size).toBe(ck.stateDict.size);
  });

  it('cancels a run, then runs again without a reload and without growing memory', async () => {
    await page.getByTestId('reset').click();
    await page.getByTestId('purify').waitFor({ state: 'visible' });
    await expect.poll(() => page.getByTestId('purify').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.locator('.busy').waitFor({ state: 'detached', timeout: 300_000 });
    const baseline = await tensors(page);
    await page.getByTestId('purify').click();
    await expect.poll(() => page.getByTestId('cancel').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.getByTestId('cancel').click();
    await page.locator('.notice', { hasText: 'Cancelled' }).waitFor({ timeout: 300_000 });
    await expect.poll(() => tensors(page), { timeout: 60_000 }).toBeLessThanOrEqual(baseline);
    await page.getByTestId('purify').click();
    await page.getByTestId('result').waitFor({ timeout: 400_000 });
    await page.getByTestId('reset').click();
    await page.locator('.busy').waitFor({ state: 'detached', timeout: 300_000 });
    // No growth across runs (the count may drop by a tensor the first run's set-up left cached).
    await expect.poll(() => tensors(page), { timeout: 60_000 }).toBeLessThanOrEqual(baseline);
    await screenshot(page, 'second-run');
  });
});
