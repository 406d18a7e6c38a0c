/**
 * Bring your own model and data, in a real browser (WASM backend: these checks are about files, not speed):
 * a WRN-16-1 saved by PyTorch loads from its .pth (zip and legacy formats) and predicts exactly as PyTorch did;
 * bad model files are refused with a message while the loaded model stays; clean images come from a .zip of class
 * folders (any size, resized), with counts and warnings, and a file set without images is refused without losing
 * the data the page had.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeZip } from '../../src/engine/io/zipWriter';
import { repoRoot } from '../helpers/fixtures';
import { openReadyPage, screenshot } from './browser';
import { pngBytes } from '../helpers/images';

const baseUrl = inject('baseUrl');
const fx = (...p: string[]) => path.join(repoRoot, ...p);
const expected = JSON.parse(fs.readFileSync(fx('test/e2e/fixtures/wrn-16-1-badnets-predictions.json'), 'utf8')) as { indices: number[]; predictions: number[] };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-upload-'));

async function predictions(page: Page): Promise<number[]> {
  return page.evaluate(async (idx) => {
    const w = window as unknown as { __mcldef: { predict(i: number[]): Promise<number[]> } };
    return w.__mcldef.predict(idx);
  }, expected.indices);
}

describe('uploads', () => {
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    ({ browser, page, log } = await openReadyPage(`${baseUrl}?evalSize=20&backend=wasm`));
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function uploadModel(file: string): Promise<void> {
    await page.getByTestId('model-files').setInputFiles(file);
    try {
      await page.getByTestId('upload-model').click({ timeout: 60_000 });
    } catch (e) {
      await screenshot(page, 'upload-stuck');
      const busy = await page.locator('.busy').allTextContents();
      const picked = await page.locator('.dropzone span').first().textContent();
      throw new Error(`upload button stayed disabled (busy: ${busy.join(', ') || 'none'}; picked: ${picked}): ${(e as Error).message.split('\n')[0]}\n${log.join('\n')}`);
    }
  }
  async function lastError(): Promise<string> {
    const errors = page.getByTestId('error');
    await errors.first().waitFor({ timeout: 120_000 });
    return (await errors.last().textContent()) ?? '';
  }

  it('a PyTorch .pth loads and predicts as PyTorch; bad model files are refused and the model stays', async () => {
    const builtIn = await predictions(page);
    await page.getByText('Upload your own model').click();

    await uploadModel(fx('test/golden/fixtures/torch/malicious_os_system.pth'));
    expect(await lastError()).toMatch(/os.*system/);
    await uploadModel(fx('test/golden/fixtures/torch/truncated_zip.pth'));
    await page.getByTestId('error').nth(1).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('model-description').textContent()).toMatch(/built-in/);
    expect(await predictions(page)).toEqual(builtIn); // the built-in model is still the one loaded

    for (const [name, format] of [['wrn-16-1-badnets.pth', /PyTorch zip checkpoint/], ['wrn-16-1-badnets-legacy.pth', /legacy \(pre-1.6\) checkpoint, state_dict under 'net'/]] as const) {
      await uploadModel(fx('test/e2e/fixtures', name));
      await page.getByTestId('model-description').filter({ hasText: format }).waitFor({ timeout: 120_000 });
      expect(await page.getByTestId('model-arch').textContent()).toMatch(/wrn.*[\d,]+ parameters/i);
      const got = await predictions(page);
      const agree = got.filter((p, i) => p === expected.predictions[i]).length;
      console.log(`${name} in the page: ${agree}/${got.length} predictions equal PyTorch's`);
      expect(got, log.join('\n')).toEqual(expected.predictions);
    }
    await screenshot(page, 'uploaded-model');
  });

  it('imports clean images from a .zip of class folders, resized, with counts and warnings; no images is refused', async () => {
    const zip = path.join(tmp, 'clean.zip');
    fs.writeFileSync(zip, writeZip([
      { name: 'mine/cat/a.png', data: pngBytes(40, 1) },
      { name: 'mine/dog/b.png', data: pngBytes(48, 2) },
      { name: 'mine/dog/c.png', data: pngBytes(32, 3) },
      { name: 'mine/dog/broken.png', data: new Uint8Array([1, 2, 3]) },
      { name: 'mine/notes.txt', data: new TextEncoder().encode('hello') },
    ]));
    await page.getByText('Use your own clean images').click();
    await page.getByTestId('clean-files').setInputFiles(zip);
    await page.getByTestId('clean-summary').filter({ hasText: '3 images' }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('clean-summary').textContent()).toMatch(/3 images .*32×32/);
    const warnings = (await page.getByTestId('clean-warning').allTextContents()).join(' | ');
    expect(warnings).toMatch(/no images of classes airplane/);
    expect(warnings).toMatch(/skipped 1 file/);
    expect(warnings).toMatch(/1 file\(s\) could not be decoded.*broken.png/);

    const txt = path.join(tmp, 'readme.txt');
    fs.writeFileSync(txt, 'not an image');
    const before = await page.getByTestId('error').count();
    await page.getByTestId('clean-files').setInputFiles(txt);
    await page.getByTestId('error').nth(before).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('error').nth(before).textContent()).toMatch(/no images among the 1 file/);
    expect(await page.getByTestId('clean-summary').textContent()).toMatch(/3 images/); // the data it had stays
    await screenshot(page, 'uploaded-data');
  });

  it('10,001 images are refused at once; 10,000 show progress and can be cancelled, keeping the data it had', async () => {
    const tiny = pngBytes(8, 9);
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `big/${i % 2 ? 'cat' : 'dog'}/${i}.png`, data: tiny }));
    const over = path.join(tmp, 'over.zip');
    fs.writeFileSync(over, writeZip(entries(10_001)));
    const errorsBefore = await page.getByTestId('error').count();
    await page.getByTestId('clean-files').setInputFiles(over);
    await page.getByTestId('error').nth(errorsBefore).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('error').nth(errorsBefore).textContent()).toMatch(/10,001 images: at most 10,000/);

    const max = path.join(tmp, 'max.zip');
    fs.writeFileSync(max, writeZip(entries(10_000)));
    const had = await page.getByTestId('clean-summary').textContent();
    await page.getByTestId('clean-files').setInputFiles(max);
    await page.getByText(/Decoding images: [\d,]+ \/ 10,000/).waitFor({ timeout: 120_000 });
    await page.getByTestId('cancel-import').click();
    await page.getByText(/Decoding images/).waitFor({ state: 'detached', timeout: 60_000 });
    expect(await page.getByTestId('clean-summary').textContent()).toBe(had);
    expect(await page.getByTestId('error').count()).toBe(errorsBefore + 1); // a cancel is not an error
  });

  it('switches to another built-in model: the Trojan model brings its patch, so its ASR is measured', async () => {
    await page.getByTestId('zoo-select').selectOption('trojan');
    await page.getByTestId('model-description').filter({ hasText: 'built-in' }).waitFor({ timeout: 120_000 });
    await page.getByTestId('live-eval').filter({ hasText: /ASR [\d.]+%/ }).waitFor({ timeout: 300_000 });
    const text = (await page.getByTestId('live-eval').textContent()) ?? '';
    expect(Number(/ASR ([\d.]+)%/.exec(text)?.[1]), text).toBeGreaterThan(80);
    expect(await page.getByTestId('clean-summary').textContent()).toMatch(/2,500 images/); // the demo data is back
  });
});
