/**
 * Hostile clean-data uploads in the page, as a hostile visitor tried them in headless Chromium: a .zip whose
 * entries lie about their size (1,000 bytes declared, 60 MB or 6 GiB inflated), a 1 KB RLE BMP declaring
 * 16000x16000 pixels, a labels.csv whose label is a formula with spaces, and a zip entry with "../". Each is
 * refused or left out with its reason, the page stays up, and the data it had stays. Chromium's own
 * DecompressionStream inflates here (test/helpers/eagerInflate.ts stands in for it in the unit tests).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lyingZip, rleBmp } from '../helpers/hostile';
import { pngBytes } from '../helpers/images';
import { openReadyPage, screenshot } from './browser';

const baseUrl = inject('baseUrl');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-hostile-upload-'));

describe('hostile clean-data uploads', () => {
  let browser: Browser;
  let page: Page;
  let log: string[];
  beforeAll(async () => {
    ({ browser, page, log } = await openReadyPage(`${baseUrl}?evalSize=20`));
    await page.getByText('Use your own clean images').click();
  });
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Uploads `files` as clean data and returns the new error's text. */
  async function refused(files: string[]): Promise<string> {
    const before = await page.getByTestId('error').count();
    await page.getByTestId('clean-files').setInputFiles(files);
    await page.getByTestId('error').nth(before).waitFor({ timeout: 120_000 });
    return (await page.getByTestId('error').nth(before).textContent()) ?? '';
  }

  it('a zip of lying entries, a "../" entry: the good images are used, the rest left out with the reason', async () => {
    const zip = path.join(tmp, 'bomb.zip');
    fs.writeFileSync(zip, lyingZip([
      ...[0, 1, 2].map((i) => ({ name: `mine/cat/${i}.png`, declared: 1000, inflates: 60 * 2 ** 20 })),
      { name: 'mine/cat/3.png', declared: 1000, inflates: 6 * 2 ** 30 },
      { name: 'mine/dog/a.png', data: pngBytes(32, 1) },
      { name: 'mine/dog/b.png', data: pngBytes(32, 2) },
      { name: '../../evil/c.png', data: pngBytes(32, 3) },
    ]));
    await page.getByTestId('clean-files').setInputFiles(zip);
    await page.getByTestId('clean-summary').filter({ hasText: '2 images' }).waitFor({ timeout: 120_000 });
    const warnings = (await page.getByTestId('clean-warning').allTextContents()).join(' | ');
    expect(warnings).toMatch(/4 file\(s\) could not be decoded as images and were left out, e\.g\. "mine\/cat\/0\.png" \(bomb\.zip: zip entry mine\/cat\/0\.png inflates past its declared size of 1,000 bytes: inflating stopped there/);
    expect(warnings).toMatch(/refused 1 file\(s\) with unsafe paths \("\.\." or absolute/);
    expect(warnings).not.toMatch(/hidden/);
  });

  it('a 1 KB RLE BMP of 16000x16000 pixels and a formula label are refused, and the data stays', async () => {
    const bmp = path.join(tmp, 'big.bmp');
    fs.writeFileSync(bmp, rleBmp(16000, 16000));
    const img = path.join(tmp, 'img.png');
    fs.writeFileSync(img, pngBytes(32, 4));
    const labels = path.join(tmp, 'labels.csv');
    fs.writeFileSync(labels, "img.png,=cmd|' /C calc'!A0\n");
    // A lone image needs a class: the BMP goes with a labels file naming a real class.
    const bmpLabels = path.join(tmp, 'bmp', 'labels.csv');
    fs.mkdirSync(path.dirname(bmpLabels));
    fs.writeFileSync(bmpLabels, 'big.bmp,cat\n');
    expect(await refused([bmp, bmpLabels])).toMatch(/image big\.bmp is 16000x16000 pixels; at most 16,777,216 pixels \(4096x4096\)/);
    expect(await refused([img, labels])).toMatch(/labels file, line 1: the class "=cmd\|' \/C calc'!A0" is not a class name/);
    expect(await page.getByTestId('clean-summary').textContent()).toMatch(/2 images/);
    await screenshot(page, 'hostile-uploads');
    expect(log.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
  });
});
