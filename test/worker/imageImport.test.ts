/**
 * The page's image import (src/worker/imageImport.ts) against hostile uploads, as the CLI's readers are tested:
 * an image declaring too many pixels and a truncated PNG are refused from their header before the browser decodes
 * them, with the reason; a .zip that would unpack to more than an import may hold is refused before inflating; an
 * empty class folder inside a .zip still counts as a class. The browser's decoders are stood in for (Node has none).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeZip } from '../../src/engine/io/zipWriter';
import { importImageFiles, MAX_IMPORT_BYTES } from '../../src/worker/imageImport';
import { installEagerInflate } from '../helpers/eagerInflate';
import { hugePng, inflatingZip, lyingZip, rleBmp, truncatedPng } from '../helpers/hostile';
import { pngBytes } from '../helpers/images';

const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const g = globalThis as Record<string, unknown>;
let decoded = 0;

beforeEach(() => {
  decoded = 0;
  // Stand-ins for createImageBitmap + OffscreenCanvas: every image decodes to 2x2 mid-grey.
  g.createImageBitmap = async () => {
    decoded++;
    return { width: 2, height: 2, close: () => undefined };
  };
  g.OffscreenCanvas = class {
    getContext() {
      return { drawImage: () => undefined, getImageData: () => ({ data: new Uint8ClampedArray(16).fill(128) }) };
    }
  };
});
afterEach(() => {
  delete g.createImageBitmap;
  delete g.OffscreenCanvas;
});

const opts = { height: 4, width: 4 };

describe('importImageFiles on hostile uploads', () => {
  it('refuses an image of too many pixels from its header, without decoding it', async () => {
    await expect(importImageFiles([{ name: 'cat/big.png', bytes: ab(hugePng(16000, 16000)) }], opts)).rejects.toThrow(
      /none of the 1 image file\(s\) could be used: image cat\/big\.png is 16000x16000 pixels; at most 16,777,216 pixels \(4096x4096\)/,
    );
    expect(decoded).toBe(0);
  });

  it('refuses a 1 KB RLE BMP declaring 16000x16000 pixels, whatever its name, and a format whose header is not read, without decoding', async () => {
    for (const name of ['cat/big.bmp', 'cat/big.png']) {
      await expect(importImageFiles([{ name, bytes: ab(rleBmp(16000, 16000)) }], opts)).rejects.toThrow(
        new RegExp(`none of the 1 image file\\(s\\) could be used: image ${name.replace(/[./]/g, '\\$&')} is 16000x16000 pixels; at most 16,777,216 pixels \\(4096x4096\\)`),
      );
    }
    const ico = Uint8Array.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 32, 0]);
    const r = await importImageFiles([{ name: 'cat/ok.png', bytes: ab(pngBytes(8, 1)) }, { name: 'cat/icon.png', bytes: ab(ico) }], opts);
    expect(r.failed).toEqual(['cat/icon.png']);
    expect(r.plan.warnings.join('\n')).toMatch(/image cat\/icon\.png is not a PNG, JPEG, GIF, BMP or WebP image/);
    expect(decoded).toBe(1);
  });

  it('leaves out a truncated PNG, saying why, and keeps the good images', async () => {
    const r = await importImageFiles(
      [
        { name: 'cat/ok.png', bytes: ab(pngBytes(8, 1)) },
        { name: 'dog/cut.png', bytes: ab(truncatedPng()) },
        { name: 'dog/ok.png', bytes: ab(pngBytes(8, 2)) },
      ],
      opts,
    );
    expect(r.dataset.n).toBe(2);
    expect(r.failed).toEqual(['dog/cut.png']);
    expect(r.plan.warnings.join('\n')).toMatch(/image dog\/cut\.png is truncated/);
    expect(decoded).toBe(2);
  });

  it('refuses a .zip whose entries would unpack to more than one import may hold, before inflating', async () => {
    const zip = inflatingZip(20, 64 * 2 ** 20 - 1);
    await expect(importImageFiles([{ name: 'bomb.zip', bytes: ab(zip) }], opts)).rejects.toThrow(
      new RegExp(`bomb\\.zip: its files unpack to \\d+ MB, more than the ${MAX_IMPORT_BYTES / 2 ** 20} MB one import may hold`),
    );
    expect(decoded).toBe(0);
  });

  it('stops inflating each zip entry at its declared size, whatever it inflates to, and says why (Chromium-like inflater)', async () => {
    const eager = installEagerInflate();
    try {
      const zip = lyingZip([
        ...[0, 1, 2].map((i) => ({ name: `cat/${i}.png`, declared: 1000, inflates: 60 * 2 ** 20 })),
        { name: 'cat/3.png', declared: 1000, inflates: 6 * 2 ** 30 },
        { name: 'dog/ok.png', data: pngBytes(8, 1) },
      ]);
      const r = await importImageFiles([{ name: 'bomb.zip', bytes: ab(zip) }], opts);
      expect(r.dataset.n).toBe(1);
      expect(r.failed).toEqual(['cat/0.png', 'cat/1.png', 'cat/2.png', 'cat/3.png']);
      expect(r.plan.warnings.join('\n')).toMatch(
        /4 file\(s\) could not be decoded as images and were left out, e.g. "cat\/0\.png" \(bomb\.zip: zip entry cat\/0\.png inflates past its declared size of 1,000 bytes: inflating stopped there \(a zip bomb, or a damaged archive\)\)/,
      );
      // About 1 MiB inflated per lying entry, not 60 MB or 6 GiB.
      expect(eager.produced()).toBeLessThan(4 * 2 * 2 ** 20);
      expect(decoded).toBe(1);
    } finally {
      eager.restore();
    }
  });

  it('reads labels.csv as CSV: a formula label is refused whole, names with spaces and commas are kept', async () => {
    const CIFAR = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    const labels = (text: string) => ({ name: 'labels.csv', bytes: ab(new TextEncoder().encode(text)) });
    const img = { name: 'img.png', bytes: ab(pngBytes(8, 1)) };
    await expect(importImageFiles([img, labels("img.png,=cmd|' /C calc'!A0\n")], { ...opts, modelClassNames: CIFAR })).rejects.toThrow(
      /^labels file, line 1: the class "=cmd\|' \/C calc'!A0" is not a class name \(it looks like a spreadsheet formula\)/,
    );
    const r = await importImageFiles([{ ...img, name: 'my img.png' }, labels('"my img.png","hot dog, grilled"\n')], opts);
    expect(r.plan.classNames).toEqual(['hot dog, grilled']);
    expect(r.dataset.n).toBe(1);
  });

  it('says zip entries with ".." were refused as unsafe paths, not skipped as hidden files', async () => {
    const zip = writeZip([
      { name: 'cat/0.png', data: pngBytes(8, 1) },
      { name: '../../evil/1.png', data: pngBytes(8, 2) },
    ]);
    const r = await importImageFiles([{ name: 'data.zip', bytes: ab(zip) }], opts);
    expect(r.dataset.n).toBe(1);
    expect(r.plan.warnings.join('\n')).toMatch(/refused 1 file\(s\) with unsafe paths \("\.\." or absolute, as in a zip made to write outside its folder\), e\.g\. "\.\.\/\.\.\/evil\/1\.png"/);
    expect(r.plan.warnings.join('\n')).not.toMatch(/hidden/);
  });

  it('counts an empty class folder of a .zip as a class (sorted, as torchvision does)', async () => {
    const zip = writeZip([
      { name: 'airplane/0.png', data: pngBytes(8, 1) },
      { name: 'bird/', data: new Uint8Array(0) },
      { name: 'cat/0.png', data: pngBytes(8, 2) },
    ]);
    const r = await importImageFiles([{ name: 'data.zip', bytes: ab(zip) }], opts);
    expect(r.plan.classNames).toEqual(['airplane', 'bird', 'cat']);
    expect(Array.from(r.dataset.labels)).toEqual([0, 2]);
  });
});
