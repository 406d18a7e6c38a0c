import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readShardHeader } from '../../src/engine/data/shard';
import { loadImageFolder, loadImageFolderCached } from '../../src/platform/node/imageFolder';

let tmp: string;
const dir = (...parts: string[]): string => path.join(tmp, ...parts);

/** RGBA pixels [h, w, 4] where pixel (y, x) = [r0 + y, g0 + x, b0, alpha]. */
function rgba(h: number, w: number, [r0, g0, b0]: number[], alpha = 255): Buffer {
  const data = Buffer.alloc(h * w * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data.set([r0 + y, g0 + x, b0, alpha], (y * w + x) * 4);
  return data;
}
function writePng(file: string, h: number, w: number, base: number[], opts: { alpha?: number; gray?: boolean } = {}): void {
  const png = new PNG({ width: w, height: h });
  png.data = rgba(h, w, opts.gray ? [base[0], base[0], base[0]] : base, opts.alpha ?? 255);
  if (opts.gray) for (let p = 0; p < h * w; p++) png.data.set([base[0], base[0], base[0]], p * 4); // R = G = B
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png, opts.gray ? { colorType: 0 } : opts.alpha !== undefined ? { colorType: 6 } : { colorType: 2 }));
}
function writeJpeg(file: string, h: number, w: number, rgb: number[]): void {
  const data = Buffer.alloc(h * w * 4);
  for (let p = 0; p < h * w; p++) data.set([...rgb, 255], p * 4);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 100).data);
}
/** The pixel (y, x) of image i of a 3-channel dataset. */
const pixel = (images: Uint8Array, h: number, w: number, i: number, y: number, x: number): number[] =>
  Array.from(images.subarray(((i * h + y) * w + x) * 3, ((i * h + y) * w + x) * 3 + 3));

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-imgfolder-'));
  // "good": classes sorted z-a on disk creation, loaded a-z: cat (label 0), dog (label 1).
  writePng(dir('good', 'dog', 'b.png'), 4, 5, [100, 10, 7]);
  writePng(dir('good', 'dog', 'a.png'), 4, 5, [50, 20, 9], { alpha: 0 }); // fully transparent: alpha is dropped
  writeJpeg(dir('good', 'dog', 'c.jpeg'), 4, 5, [200, 40, 90]);
  writePng(dir('good', 'cat', '2.PNG'), 4, 5, [77], { gray: true });
  writeJpeg(dir('good', 'cat', '1.jpg'), 4, 5, [10, 220, 130]);
  fs.writeFileSync(dir('good', 'cat', 'notes.txt'), 'not an image');
  fs.writeFileSync(dir('good', 'cat', '.DS_Store'), '');
  fs.mkdirSync(dir('good', 'cat', 'nested'));
  fs.writeFileSync(dir('good', 'README.md'), '# data');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('loadImageFolder', () => {
  it('labels by sorted class folder, orders files by name, converts to RGB, lists what it skipped', async () => {
    const { dataset: ds, skipped } = await loadImageFolder(dir('good'));
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect([ds.n, ds.height, ds.width, ds.channels]).toEqual([5, 4, 5, 3]);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 1]); // cat: 1.jpg, 2.PNG; dog: a.png, b.png, c.jpeg
    expect(skipped).toEqual(['README.md', path.join('cat', '.DS_Store'), path.join('cat', 'nested'), path.join('cat', 'notes.txt')]);
    // PNGs are exact: image 3 = dog/b.png, pixel (y, x) = [100 + y, 10 + x, 7].
    expect(pixel(ds.images, 4, 5, 3, 2, 4)).toEqual([102, 14, 7]);
    expect(pixel(ds.images, 4, 5, 2, 1, 1)).toEqual([51, 21, 9]); // transparent RGBA: colour kept, alpha dropped
    expect(pixel(ds.images, 4, 5, 1, 3, 3)).toEqual([77, 77, 77]); // grayscale replicated
    // JPEG at quality 100 of a flat colour: within a few levels.
    const jpg = pixel(ds.images, 4, 5, 0, 2, 2);
    [10, 220, 130].forEach((v, c) => expect(Math.abs(jpg[c] - v)).toBeLessThanOrEqual(3));
  });

  it('takes the first limitPerClass files by name', async () => {
    const { dataset: ds } = await loadImageFolder(dir('good'), { limitPerClass: 1 });
    expect(Array.from(ds.labels)).toEqual([0, 1]);
    expect(pixel(ds.images, 4, 5, 1, 0, 0)).toEqual([50, 20, 9]); // dog/a.png
    await expect(loadImageFolder(dir('good'), { limitPerClass: 0 })).rejects.toThrow(/limitPerClass must be a positive integer/);
  });

  it('reads 16-bit PNGs as 8-bit', async () => {
    const png = new PNG({ width: 2, height: 1, bitDepth: 16 });
    png.data = Buffer.from(new Uint16Array([0x8080, 0xffff, 0, 0xffff, 0x8080, 0xffff, 0, 0xffff]).buffer);
    fs.mkdirSync(dir('deep', 'a'), { recursive: true });
    fs.writeFileSync(dir('deep', 'a', 'x.png'), PNG.sync.write(png, { bitDepth: 16, colorType: 6, inputHasAlpha: true }));
    const { dataset: ds } = await loadImageFolder(dir('deep'));
    expect(Array.from(ds.images)).toEqual([128, 255, 0, 128, 255, 0]);
  });

  it('explains what is wrong with the folder', async () => {
    await expect(loadImageFolder(dir('absent'))).rejects.toThrow(/Image folder not found: .*absent/);
    await expect(loadImageFolder(dir('good', 'README.md'))).rejects.toThrow(/Not a directory/);
    fs.mkdirSync(dir('empty'));
    await expect(loadImageFolder(dir('empty'))).rejects.toThrow(/Image folder is empty: .*empty \(expected one sub-folder per class\)/);
    writePng(dir('flat', 'loose.png'), 2, 2, [1, 2, 3]);
    await expect(loadImageFolder(dir('flat'))).rejects.toThrow(/has no class sub-folders/);
    writePng(dir('noimg', 'a', 'x.png'), 2, 2, [1, 2, 3]);
    fs.mkdirSync(dir('noimg', 'b'));
    fs.writeFileSync(dir('noimg', 'b', 'x.txt'), '');
    await expect(loadImageFolder(dir('noimg'))).rejects.toThrow(/Class folder has no .jpg\/.jpeg\/.png images: .*noimg.b/);
  });

  it('names the file and both sizes when an image differs in size', async () => {
    writePng(dir('mixed', 'a', '1.png'), 4, 4, [1, 2, 3]);
    writePng(dir('mixed', 'b', '1.png'), 4, 6, [1, 2, 3]);
    await expect(loadImageFolder(dir('mixed'))).rejects.toThrow(/Image .*mixed.b.1\.png is 4x6 \(HxW\), expected 4x4 from the first image \(a.1\.png\)/);
    await expect(loadImageFolder(dir('good'), { expectSize: [32, 32] })).rejects.toThrow(/cat.1\.jpg is 4x5 \(HxW\), expected 32x32 from expectSize/);
  });

  it('names a file that does not decode', async () => {
    writePng(dir('broken', 'a', '1.png'), 2, 2, [1, 2, 3]);
    fs.writeFileSync(dir('broken', 'a', '2.jpg'), 'this is not a jpeg');
    await expect(loadImageFolder(dir('broken'))).rejects.toThrow(/image a.2\.jpg is not a PNG, JPEG, GIF, BMP or WebP image/);
  });
});

describe('loadImageFolderCached', () => {
  it('writes an MCLDSET1 cache, reads it back, and rebuilds it when the folder or options change', async () => {
    const cache = dir('cache', 'good.mcld');
    const first = await loadImageFolderCached(dir('good'), cache);
    expect(first.fromCache).toBe(false);
    expect(first.skipped.length).toBe(4);
    expect(readShardHeader(fs.readFileSync(cache)).meta).toMatchObject({ source: 'imageFolder', fingerprint: expect.any(String) });

    const second = await loadImageFolderCached(dir('good'), cache);
    expect(second.fromCache).toBe(true);
    expect(second.dataset).toEqual(first.dataset);

    expect((await loadImageFolderCached(dir('good'), cache, { limitPerClass: 1 })).fromCache).toBe(false);
    expect((await loadImageFolderCached(dir('good'), cache, { limitPerClass: 1 })).fromCache).toBe(true);
    writePng(dir('good', 'dog', 'd.png'), 4, 5, [1, 1, 1]);
    const grown = await loadImageFolderCached(dir('good'), cache);
    expect(grown.fromCache).toBe(false);
    expect(grown.dataset.n).toBe(6);
    fs.rmSync(dir('good', 'dog', 'd.png'));
    expect((await loadImageFolderCached(dir('good'), cache, { refresh: true })).fromCache).toBe(false);
  });

  it('rebuilds a corrupt cache file instead of failing', async () => {
    const cache = dir('cache', 'corrupt.mcld');
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    fs.writeFileSync(cache, 'garbage');
    const out = await loadImageFolderCached(dir('good'), cache);
    expect(out.fromCache).toBe(false);
    expect((await loadImageFolderCached(dir('good'), cache)).fromCache).toBe(true);
  });
});
