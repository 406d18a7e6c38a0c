/**
 * The page in a real browser: it starts on WebGPU (SwiftShader here), shows the model card with the backdoor at
 * work, keeps its loading controls off until the default model and data are in, and falls back to another backend
 * when WebGPU is hidden.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, screenshot, watchConsole } from './browser';

const baseUrl = inject('baseUrl');

describe('the page', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads on the WebGPU backend and shows the model card and the backdoor at work', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const log = watchConsole(page);
    await page.goto(`${baseUrl}?evalSize=20`);
    // Until the default model and data are in, nothing can be loaded over them (an early upload would be replaced).
    expect(await page.getByTestId('clean-files').isDisabled({ timeout: 60_000 })).toBe(true);
    expect(await page.getByTestId('zoo-select').isDisabled()).toBe(true);
    await page.getByTestId('backend').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('backend').textContent()).toBe('webgpu');
    await page.getByTestId('model-card').waitFor({ timeout: 120_000 });
    await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });
    await screenshot(page, 'model-card');
    const text = await page.getByTestId('live-eval').textContent();
    const [, ba, asr] = /BA ([\d.]+)% · ASR ([\d.]+)%/.exec(text ?? '') ?? [];
    expect(Number(ba), log.join('\n')).toBeGreaterThan(50);
    expect(Number(asr)).toBeGreaterThan(80);
    await expect.poll(() => page.getByTestId('zoo-select').isEnabled(), { timeout: 120_000 }).toBe(true);
    expect(await page.getByTestId('clean-files').isEnabled()).toBe(true);
    await page.close();
  });

  it('falls back to another backend without WebGPU and says why', async () => {
    const noGpu = await launch({ webgpu: false });
    try {
      const page = await noGpu.newPage();
      await page.goto(`${baseUrl}?evalSize=20`);
      await page.getByTestId('backend').waitFor({ timeout: 120_000 });
      const name = await page.getByTestId('backend').textContent();
      expect(['webgl', 'wasm', 'cpu']).toContain(name);
      expect(await page.locator('.badge-note').textContent()).toMatch(/WebGPU unavailable/);
      // The fallback backend runs the model too.
      await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });
      await screenshot(page, 'fallback');
      // The WASM fallback (chosen explicitly here) loads and runs the model too.
      const wasm = await noGpu.newPage();
      await wasm.goto(`${baseUrl}?evalSize=20&backend=wasm`);
      await wasm.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });
      expect(await wasm.getByTestId('backend').textContent()).toBe('wasm');
    } finally {
      await noGpu.close();
    }
  });
});
