import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { maskParamsFromRgba, rgbaAttack, rgbaCoverage } from '../../../src/engine/attacks/rgba';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A 4x4 RGBA trigger: pixel (1, 2) opaque red, pixel (3, 3) white at alpha 51 (0.2). */
function trigger(): Uint8Array {
  const rgba = new Uint8Array(4 * 4 * 4);
  rgba.set([255, 0, 0, 255], 4 * (1 * 4 + 2));
  rgba.set([255, 255, 255, 51], 4 * (3 * 4 + 3));
  return rgba;
}

describe('RGBA trigger', () => {
  it('reads alpha as the mask and RGB as the pattern', () => {
    const p = maskParamsFromRgba(trigger(), 4, 4);
    expect(p.mask[6]).toBe(1);
    expect(p.mask[15]).toBeCloseTo(0.2, 6);
    expect(p.mask.reduce((a, b) => a + b, 0)).toBeCloseTo(1.2, 5);
    expect(Array.from(p.pattern.slice(18, 21))).toEqual([1, 0, 0]);
    expect(rgbaCoverage(trigger())).toBe(2 / 16);
  });

  it('stamps uint8 images and tensors alike: replace where opaque, blend where not', () => {
    const attack = rgbaAttack(trigger(), 4, 4);
    const img = new Uint8Array(4 * 4 * 3).fill(100);
    attack.stampImage(img, 4, 4, 3);
    expect(Array.from(img.slice(18, 21))).toEqual([255, 0, 0]);
    expect(Array.from(img.slice(45, 48))).toEqual([131, 131, 131]); // 0.8 * 100 + 0.2 * 255 = 131
    expect(img[0]).toBe(100);
    const x = tf.fill([1, 4, 4, 3], 100 / 255) as tf.Tensor4D;
    const y = attack.applyTensor(x).dataSync();
    expect(y[18]).toBeCloseTo(1, 6);
    expect(y[45] * 255).toBeCloseTo(131, 3);
    tf.dispose(x);
  });

  it('refuses a wrong size, an empty trigger and (when asked) a full opaque cover', () => {
    expect(() => maskParamsFromRgba(new Uint8Array(10), 4, 4)).toThrow(/10 bytes for 4x4 RGBA, expected 64/);
    expect(() => maskParamsFromRgba(new Uint8Array(64), 4, 4)).toThrow(/transparent/);
    const full = new Uint8Array(64).fill(255);
    expect(() => maskParamsFromRgba(full, 4, 4)).not.toThrow();
    expect(() => maskParamsFromRgba(full, 4, 4, { refuseFullCover: true })).toThrow(/whole 4x4 image/);
  });
});
