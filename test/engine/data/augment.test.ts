import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyCropFlip, type CropFlipParams, drawCropFlip, randomCropFlip } from '../../../src/engine/data/augment';
import { createRng } from '../../../src/engine/random';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const [B, H, W, C] = [6, 5, 7, 3];
/** Distinct positive value per element, so every pixel is traceable. */
const source = Float32Array.from({ length: B * H * W * C }, (_, i) => (i + 1) / (B * H * W * C));

/** CPU reference: out[b,i,j,c] = padded[b, dy+i, col, c], zero outside the image. */
function reference(params: CropFlipParams, pad: number): Float32Array {
  const out = new Float32Array(source.length);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        const y = params.offsetY[b] + i - pad;
        const col = params.flip[b] ? params.offsetX[b] + W - 1 - j : params.offsetX[b] + j;
        const x = col - pad;
        for (let c = 0; c < C; c++) {
          const inside = y >= 0 && y < H && x >= 0 && x < W;
          out[((b * H + i) * W + j) * C + c] = inside ? source[((b * H + y) * W + x) * C + c] : 0;
        }
      }
  return out;
}

describe('drawCropFlip', () => {
  it('draws offsets in [0, 2p] and flips, in the documented order', () => {
    const p = drawCropFlip(createRng(1), 200, 4);
    expect(Math.min(...p.offsetY)).toBe(0);
    expect(Math.max(...p.offsetY)).toBe(8);
    expect(Math.max(...p.offsetX)).toBe(8);
    const flips = p.flip.reduce((s, v) => s + v, 0);
    expect(flips).toBeGreaterThan(70);
    expect(flips).toBeLessThan(130);
    const r = createRng(1);
    expect([p.offsetY[0], p.offsetX[0], p.flip[0]]).toEqual([r.int(9), r.int(9), r.next() < 0.5 ? 1 : 0]);
    expect(Array.from(drawCropFlip(createRng(1), 10, 4, false).flip)).toEqual(new Array(10).fill(0));
  });
});

describe('randomCropFlip', () => {
  it('keeps the shape and moves pixels exactly as the CPU reference, zero in the padding', async () => {
    const x = tf.tensor4d(source, [B, H, W, C]);
    for (const seed of [1, 2, 3]) {
      const params = drawCropFlip(createRng(seed), B, 2);
      const y = randomCropFlip(x, createRng(seed), { padding: 2 });
      expect(y.shape).toEqual([B, H, W, C]);
      expect(Array.from(await y.data())).toEqual(Array.from(reference(params, 2)));
      y.dispose();
    }
    x.dispose();
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const x = tf.tensor4d(source, [B, H, W, C]);
    const [a, b, c] = [createRng(9), createRng(9), createRng(10)].map((r) => randomCropFlip(x, r));
    const [da, db, dc] = await Promise.all([a.data(), b.data(), c.data()]);
    expect(Array.from(db)).toEqual(Array.from(da));
    expect(Array.from(dc)).not.toEqual(Array.from(da));
    tf.dispose([x, a, b, c]);
  });

  it('is the identity with centred offsets and no flip, and a pure mirror with flip only', async () => {
    const x = tf.tensor4d(source, [B, H, W, C]);
    const none: CropFlipParams = { offsetY: new Int32Array(B).fill(4), offsetX: new Int32Array(B).fill(4), flip: new Uint8Array(B) };
    const same = applyCropFlip(x, none, 4);
    expect(Array.from(await same.data())).toEqual(Array.from(source));
    const mirror = applyCropFlip(x, { ...none, flip: new Uint8Array(B).fill(1) }, 4);
    const expected = tf.reverse(x, 2);
    expect(Array.from(await mirror.data())).toEqual(Array.from(await expected.data()));
    const unpadded = randomCropFlip(x, createRng(1), { padding: 0, flip: false });
    expect(Array.from(await unpadded.data())).toEqual(Array.from(source));
    tf.dispose([x, same, mirror, expected, unpadded]);
  });

  it('leaks no tensors and leaves its input alone', () => {
    const x = tf.tensor4d(source, [B, H, W, C]);
    const before = tf.memory().numTensors;
    const rng = createRng(5);
    for (let k = 0; k < 3; k++) randomCropFlip(x, rng).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  it('rejects params that do not fit', () => {
    const x = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
    const params = drawCropFlip(createRng(1), 3);
    expect(() => applyCropFlip(x, params)).toThrow(/params are for 3 images, batch has 2/);
    const far: CropFlipParams = { offsetY: Int32Array.from([0, 9]), offsetX: new Int32Array(2), flip: new Uint8Array(2) };
    expect(() => applyCropFlip(x, far, 4)).toThrow(/offset \(9, 0\) of image 1 is outside \[0, 8\]/);
    x.dispose();
  });
});
