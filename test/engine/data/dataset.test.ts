import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchCount,
  batches,
  classBalancedSplit,
  classCounts,
  createDataset,
  type Dataset,
  indicesByClass,
  subset,
  toBatch,
  validateDataset,
} from '../../../src/engine/data/dataset';
import { createRng } from '../../../src/engine/random';
import { syntheticDataset } from './synthetic';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createDataset / validateDataset', () => {
  it('derives n from the labels and copies non-Int32 labels', () => {
    const ds = createDataset({ images: new Uint8Array(2 * 4 * 3), labels: Uint8Array.from([1, 0]), height: 2, width: 2, channels: 3, classNames: ['a', 'b'] });
    expect(ds.n).toBe(2);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.labels)).toEqual([1, 0]);
  });

  it('names the inconsistency', () => {
    const base = { images: new Uint8Array(2 * 4 * 3), labels: [0, 1], height: 2, width: 2, channels: 3, classNames: ['a', 'b'] };
    expect(() => createDataset({ ...base, images: new Uint8Array(23) })).toThrow(/images has 23 bytes, expected .* = 24/);
    expect(() => createDataset({ ...base, labels: [0, 2] })).toThrow(/label 2 at index 1 is outside \[0, 2\)/);
    expect(() => createDataset({ ...base, labels: [0, -1] })).toThrow(/label -1 at index 1/);
    expect(() => createDataset({ ...base, classNames: [] })).toThrow(/classNames is empty/);
    expect(() => createDataset({ ...base, height: 0 })).toThrow(/zero dimension/);
    expect(() => createDataset({ ...base, width: 1.5 })).toThrow(/width must be a non-negative integer/);
    const ds = createDataset(base);
    expect(() => validateDataset({ ...ds, n: 3 })).toThrow(/expected n\*height\*width\*channels/);
    expect(() => validateDataset({ ...ds, labels: new Int32Array(3) } as Dataset)).toThrow(/labels has 3 entries, expected n = 2/);
  });
});

describe('subset, classCounts, indicesByClass', () => {
  it('copies the chosen images and labels in order', () => {
    const ds = syntheticDataset(6, { h: 2, w: 2, c: 3 });
    const sub = subset(ds, [4, 1, 4]);
    expect(sub.n).toBe(3);
    expect(Array.from(sub.labels)).toEqual([1, 1, 1]);
    expect(Array.from(sub.images.subarray(0, 12))).toEqual(Array.from(ds.images.subarray(48, 60)));
    expect(Array.from(sub.images.subarray(12, 24))).toEqual(Array.from(ds.images.subarray(12, 24)));
    sub.images[0] ^= 0xff;
    expect(sub.images[0]).not.toBe(ds.images[48]); // a copy, not a view
    expect(() => subset(ds, [6])).toThrow(/index 6 is outside \[0, 6\)/);
  });

  it('counts per class', () => {
    const ds = syntheticDataset(7, { classes: 3 });
    expect(classCounts(ds)).toEqual([3, 2, 2]);
    expect(indicesByClass(ds)).toEqual([[0, 3, 6], [1, 4], [2, 5]]);
  });
});

describe('classBalancedSplit', () => {
  const ds = syntheticDataset(100, { h: 2, w: 2, classes: 4 }); // 25 per class

  it('draws a count per class, deterministically for a seed', () => {
    const { selected, rest } = classBalancedSplit(ds, 5, createRng(1));
    expect(selected.length).toBe(20);
    expect(rest.length).toBe(80);
    expect(classCounts(subset(ds, selected))).toEqual([5, 5, 5, 5]);
    expect(new Set([...selected, ...rest]).size).toBe(100);
    expect(Array.from(selected)).toEqual([...selected].sort((a, b) => a - b));
    expect(Array.from(classBalancedSplit(ds, 5, createRng(1)).selected)).toEqual(Array.from(selected));
    expect(Array.from(classBalancedSplit(ds, 5, createRng(2)).selected)).not.toEqual(Array.from(selected));
  });

  it('takes a fraction of each class (0.05 of 5000 = 250 in CIFAR-10)', () => {
    const { selected } = classBalancedSplit(ds, 0.2, createRng(3));
    expect(classCounts(subset(ds, selected))).toEqual([5, 5, 5, 5]);
    const cifarLike = createDataset({ images: new Uint8Array(50_000), labels: Array.from({ length: 50_000 }, (_, i) => i % 10), height: 1, width: 1, channels: 1, classNames: 'abcdefghij'.split('') });
    expect(classCounts(subset(cifarLike, classBalancedSplit(cifarLike, 0.05, createRng(0)).selected))).toEqual(new Array(10).fill(250));
  });

  it('rejects bad requests', () => {
    expect(() => classBalancedSplit(ds, 26, createRng(1))).toThrow(/class 0 \(class0\) has 25 images, asked for 26/);
    expect(() => classBalancedSplit(ds, 0, createRng(1))).toThrow(/count >= 1 or a fraction/);
    expect(() => classBalancedSplit(ds, 2.5, createRng(1))).toThrow(/count >= 1 or a fraction/);
  });
});

describe('toBatch / batches', () => {
  it('uploads uint8 / 255 as float32 [B, H, W, C] with int32 labels', async () => {
    const ds = syntheticDataset(5, { h: 3, w: 2, c: 3 });
    const { x, y, indices } = toBatch(ds, [3, 0]);
    expect(x.shape).toEqual([2, 3, 2, 3]);
    expect(x.dtype).toBe('float32');
    expect(y.dtype).toBe('int32');
    expect(Array.from(indices)).toEqual([3, 0]);
    const xs = await x.data();
    const expected = Float32Array.from([...ds.images.subarray(54, 72), ...ds.images.subarray(0, 18)], (v) => v / 255);
    expect(Array.from(xs)).toEqual(Array.from(expected));
    expect(Array.from(await y.data())).toEqual([0, 0]);
    tf.dispose([x, y]);
  });

  it('covers the indices in batches of batchSize, optionally shuffled, without leaking', () => {
    const ds = syntheticDataset(10, { h: 2, w: 2 });
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batches(ds, 4)) {
      seen.push(...b.indices);
      sizes.push(b.x.shape[0]);
      tf.dispose([b.x, b.y]);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sizes).toEqual([4, 4, 2]);
    expect(batchCount(10, 4)).toBe(3);
    expect(batchCount(10, 4, true)).toBe(2);

    const order = Int32Array.from([9, 8, 7, 6, 5]);
    const shuffled: number[] = [];
    for (const b of batches(ds, 2, order, { rng: createRng(4), dropLast: true })) {
      shuffled.push(...b.indices);
      tf.dispose([b.x, b.y]);
    }
    expect(shuffled.length).toBe(4);
    expect(Array.from(order)).toEqual([9, 8, 7, 6, 5]); // caller's indices untouched
    const expected = createRng(4).shuffle(Int32Array.from([9, 8, 7, 6, 5]));
    expect(shuffled).toEqual(Array.from(expected.subarray(0, 4)));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => batches(ds, 0).next()).toThrow(/batchSize must be a positive integer/);
  });
});
