import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attackFromName, loadPngTrigger } from '../../src/platform/node/data';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function writePng(file: string, w: number, h: number, fill: (x: number, y: number) => number[]): void {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(fill(x, y), 4 * (y * w + x));
  fs.writeFileSync(file, PNG.sync.write(png));
}

describe('CLI triggers from files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trigger-png-'));

  it('reads an RGBA PNG as a mask trigger of its size', () => {
    const file = path.join(dir, 'patch.png');
    writePng(file, 32, 32, (x, y) => (x >= 28 && y >= 28 ? [255, 255, 0, 255] : [0, 0, 0, 0]));
    const attack = loadPngTrigger(file);
    const img = new Uint8Array(32 * 32 * 3).fill(7);
    attack.stampImage(img, 32, 32, 3);
    expect(Array.from(img.slice(3 * (31 * 32 + 31), 3 * (31 * 32 + 31) + 3))).toEqual([255, 255, 0]);
    expect(img[0]).toBe(7);
    expect(() => attack.stampImage(new Uint8Array(16 * 16 * 3), 16, 16, 3)).toThrow(/32x32x3/);
  });

  it('names the file and what was expected for an empty trigger, a non-PNG and a missing --trigger', async () => {
    const empty = path.join(dir, 'empty.png');
    writePng(empty, 32, 32, () => [9, 9, 9, 0]);
    expect(() => loadPngTrigger(empty)).toThrow(/empty\.png: .*transparent.*RGBA PNG trigger/);
    const text = path.join(dir, 'note.png');
    fs.writeFileSync(text, 'not a png');
    expect(() => loadPngTrigger(text)).toThrow(/note\.png: .*expected an RGBA PNG trigger/);
    await expect(attackFromName('mask')).rejects.toThrow(/needs --trigger FILE\.png/);
  });

  it('takes SIG amplitude and frequency from a JSON file', async () => {
    const file = path.join(dir, 'sig.json');
    fs.writeFileSync(file, JSON.stringify({ delta: 30, frequency: 3 }));
    const attack = await attackFromName('sig', file);
    const img = new Uint8Array(32 * 32 * 3).fill(100);
    attack.stampImage(img, 32, 32, 3);
    expect(img[3 * 1]).toBe(Math.round(100 + 30 * Math.sin((2 * Math.PI * 3) / 32)));
    fs.writeFileSync(file, JSON.stringify({ delta: 'big' }));
    await expect(attackFromName('sig', file)).rejects.toThrow(/"delta" must be a number/);
  });
});
