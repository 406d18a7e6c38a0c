/**
 * The page in a real browser: it times the backends and trains on WASM here (this machine's WebGPU is SwiftShader,
 * a software adapter, which must not win), shows the model card with the backdoor at work and the run's estimated
 * time, keeps its loading controls off until the default model and data are in, still starts WebGPU when the
 * address asks for it, and says why when WebGPU is hidden.
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

  it('chooses WASM over the software WebGPU adapter, says why, and shows the model card and the backdoor at work', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const log = watchConsole(page);
    await page.goto(`${baseUrl}?evalSize=20`);
    // Until the default model and data are in, nothing can be loaded over them (an early upload would be replaced).
    expect(await page.getByTestId('clean-files').isDisabled({ timeout: 60_000 })).toBe(true);
    expect(await page.getByTestId('zoo-select').isDisabled()).toBe(true);
    await page.getByTestId('backend').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('backend').textContent()).toBe('wasm');
    expect(await page.getByTestId('backend-why').textContent()).toMatch(/^WASM trains fastest here \(WebGPU: WebGPU here is a software adapter \(.*swiftshader.*\), far slower than WASM; .*WASM [\d.]+ img\/s\)/i);
    await page.getByTestId('model-card').waitFor({ timeout: 120_000 });
    await page.getByTestId('live-eval').filter({ hasText: 'BA' }).waitFor({ timeout: 300_000 });
    await screenshot(page, 'model-card');
    const text = await page.getByTestId('live-eval').textContent();
    const [, ba, asr] = /BA ([\d.]+)% · ASR ([\d.]+)%/.exec(text ?? '') ?? [];
    expect(Number(ba), log.join('\n')).toBeGreaterThan(50);
    expect(Number(asr)).toBeGreaterThan(80);
    await expect.poll(() => page.getByTestId('zoo-select').isEnabled(), { timeout: 120_000 }).toBe(true);
    expect(await page.getByTestId('clean-files').isEnabled()).toBe(true);
    // Before the click: the class demo preset (custom here: ?evalSize=20 edits it), and how long it will take here.
    expect(await page.getByTestId('preset-state').textContent()).toMatch(/^custom \(Class demo with edits/);
    expect(await page.getByTestId('preset-quick').isChecked()).toBe(false);
    expect(await page.getByTestId('estimate').textContent()).toMatch(/^This run: about (\d+ min )?\d+ s( \(at most .*\))? on WASM here\.$/);
    // Picking the preset restores it (and drops the edit from the address).
    await page.getByTestId('preset-quick').check();
    expect(await page.getByTestId('preset-state').textContent()).toMatch(/^1,000 clean images/);
    expect(new URL(page.url()).searchParams.get('evalSize')).toBeNull();
    // An edited field turns the preset into "custom"; the paper preset fills its own numbers.
    await page.getByText('Settings (saved in the page address').click();
    await page.getByLabel('Purification epochs').fill('3');
    await expect.poll(() => page.getByTestId('preset-state').textContent()).toMatch(/^custom/);
    await page.getByTestId('preset-paper').check();
    expect(await page.getByLabel('Purification epochs').inputValue()).toBe('20');
    expect(new URL(page.url()).searchParams.get('preset')).toBe('paper');
    await page.close();
  });

  it('still starts WebGPU when the address asks for it', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}?evalSize=20&backend=webgpu`);
    await page.getByTestId('backend').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('backend').textContent()).toBe('webgpu');
    expect(await page.getByTestId('backend-why').textContent()).toMatch(/asked for in the address \(\?backend=webgpu\)/);
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
      expect(await page.getByTestId('backend-why').textContent()).toMatch(/WebGPU could not start: (this browser has no WebGPU|WebGPU is present but no GPU adapter is available)/);
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
