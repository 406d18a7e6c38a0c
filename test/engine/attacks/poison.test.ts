import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { poisonTestSet, poisonTrainSet, stampDataset } from '../../../src/engine/attacks/poison';
import { getAttack } from '../../../src/engine/attacks/registry';
import { classCounts } from '../../../src/engine/data/dataset';
import { createRng } from '../../../src/engine/random';
import { syntheticDataset } from '../data/synthetic';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const size = 16 * 16 * 3;
const ds = syntheticDataset(40, { h: 16, w: 16, c: 3, classes: 4 }); // labels 0,1,2,3,0,1,...
const grid = getAttack('badnets');
const stampOne = (i: number): Uint8Array => {
  const img = ds.images.slice(i * size, (i + 1) * size);
  grid.stampImage(img, 16, 16, 3);
  return img;
};

describe('stampDataset', () => {
  it('returns a stamped copy and leaves the input alone', () => {
    const before = ds.images.slice();
    const out = stampDataset(ds, grid, [2, 5]);
    expect(ds.images).toEqual(before);
    expect(out.images.subarray(2 * size, 3 * size)).toEqual(stampOne(2));
    expect(out.images.subarray(3 * size, 4 * size)).toEqual(ds.images.subarray(3 * size, 4 * size));
    expect(Array.from(out.labels)).toEqual(Array.from(ds.labels));
    expect(() => stampDataset(ds, grid, [40])).toThrow(/index 40 is outside/);
  });
});

describe('poisonTestSet', () => {
  it('keeps the non-target images, stamped, with their true labels', () => {
    const out = poisonTestSet(ds, grid, 2);
    expect(out.n).toBe(30);
    expect(classCounts(out)).toEqual([10, 10, 0, 10]);
    const firstIndices = [0, 1, 3, 4]; // source indices of the first four kept images
    firstIndices.forEach((src, k) => {
      expect(out.labels[k]).toBe(ds.labels[src]);
      expect(out.images.subarray(k * size, (k + 1) * size)).toEqual(stampOne(src));
    });
    expect(() => poisonTestSet(ds, grid, 4)).toThrow(/target 4 is outside \[0, 4\)/);
  });
});

describe('poisonTrainSet', () => {
  it('poison-label: round(rate * n) non-target images, stamped and relabelled', () => {
    const { dataset, poisoned } = poisonTrainSet(ds, grid, { target: 1, rate: 0.1, rng: createRng(3) });
    expect(poisoned.length).toBe(4);
    for (const i of poisoned) expect(ds.labels[i]).not.toBe(1);
    expect(Array.from(poisoned)).toEqual([...poisoned].sort((a, b) => a - b));
    for (let i = 0; i < ds.n; i++) {
      const hit = poisoned.includes(i);
      expect(dataset.labels[i]).toBe(hit ? 1 : ds.labels[i]);
      expect(dataset.images.subarray(i * size, (i + 1) * size)).toEqual(hit ? stampOne(i) : ds.images.subarray(i * size, (i + 1) * size));
    }
    const again = poisonTrainSet(ds, grid, { target: 1, rate: 0.1, rng: createRng(3) });
    expect(Array.from(again.poisoned)).toEqual(Array.from(poisoned));
  });

  it('clean-label: only target-class images, labels untouched', () => {
    const { dataset, poisoned } = poisonTrainSet(ds, getAttack('sig'), { target: 3, rate: 0.2, rng: createRng(1) });
    expect(poisoned.length).toBe(8);
    for (const i of poisoned) expect(ds.labels[i]).toBe(3);
    expect(Array.from(dataset.labels)).toEqual(Array.from(ds.labels));
    expect(() => poisonTrainSet(ds, getAttack('sig'), { target: 3, rate: 0.3, rng: createRng(1) })).toThrow(/clean-label rate 0.3 needs 12 images of class 3, there are 10/);
    const forced = poisonTrainSet(ds, grid, { target: 3, rate: 0.2, rng: createRng(1), kind: 'clean-label' });
    expect(Array.from(forced.dataset.labels)).toEqual(Array.from(ds.labels));
    expect(() => poisonTrainSet(ds, grid, { target: 3, rate: 0.8, rng: createRng(1) })).toThrow(/needs 32 images outside class 3, there are 30/);
  });
});
