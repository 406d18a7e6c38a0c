/** The clean set a run gets (src/worker/cleanSubset.ts): shares and caps on unbalanced data, and what is refused. */
import { describe, expect, it } from 'vitest';
import { classCounts, createDataset, type Dataset } from '../../src/engine/data/dataset';
import { createRng } from '../../src/engine/random';
import { checkInvertible, cutCleanSet, evenQuotas } from '../../src/worker/cleanSubset';

/** A 1x1 grey data set with `counts[c]` images of class c. */
function counted(counts: number[]): Dataset {
  const labels = counts.flatMap((n, c) => Array<number>(n).fill(c));
  return createDataset({ images: new Uint8Array(labels.length), labels, height: 1, width: 1, channels: 1, classNames: counts.map((_, c) => `c${c}`) });
}

describe('evenQuotas', () => {
  it('shares a cap evenly, giving what small classes cannot take to the others', () => {
    expect(evenQuotas([10, 10, 10], 9)).toEqual([3, 3, 3]);
    expect(evenQuotas([1, 10, 10], 9)).toEqual([1, 4, 4]);
    expect(evenQuotas([0, 2, 10], 9)).toEqual([0, 2, 7]);
    expect(evenQuotas([5, 5], 3)).toEqual([2, 1]);
    expect(evenQuotas([2, 3], 100)).toEqual([2, 3]);
  });
});

describe('cutCleanSet', () => {
  it('cuts unbalanced data to a cap with what there is, and says which classes fall short', () => {
    const { dataset, warnings } = cutCleanSet(counted([20, 1, 20, 0]), { percent: 5, limit: 12 }, createRng(1));
    expect(classCounts(dataset)).toEqual([6, 1, 5, 0]);
    expect(warnings).toEqual([
      'no clean images of class 3 (c3): the run uses the other classes\' images',
      'class 1 (c1) has 1 of the 4 clean images per class the cap of 12 asks for: all of them are used, and other classes make up the rest',
    ]);
  });

  it('takes a share class by class, keeping one image of a class that has any', () => {
    const { dataset, warnings } = cutCleanSet(counted([50, 3, 10]), { percent: 1, limit: 0 }, createRng(1));
    expect(classCounts(dataset)).toEqual([10, 1, 2]);
    expect(warnings).toEqual([]);
    // Same seed, same images; the set is untouched when nothing is cut.
    expect(cutCleanSet(counted([50, 3, 10]), { percent: 1, limit: 0 }, createRng(1)).dataset.labels).toEqual(dataset.labels);
    const whole = counted([4, 4]);
    expect(cutCleanSet(whole, { percent: 5, limit: 100 }, createRng(1)).dataset).toBe(whole);
  });
});

describe('checkInvertible', () => {
  it('refuses clean data of the target class only, naming it', () => {
    expect(() => checkInvertible(counted([0, 3]), 1)).toThrow('trigger inversion for class 1 (c1) needs clean images of other classes, but all 3 clean images are of class 1: add images of other classes');
    expect(() => checkInvertible(counted([1, 3]), 1)).not.toThrow();
  });
});
