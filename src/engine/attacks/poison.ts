/**
 * Attacks applied to whole datasets: stamped copies for ASR evaluation and poisoned training sets.
 * All functions return new datasets; the input is never modified.
 */
import { type Dataset, imageSize, subset } from '../data/dataset';
import type { Rng } from '../random';
import type { Attack, PoisonKind } from './types';

/**
 * A copy of `ds` with the images at `indices` (all when omitted) stamped by `attack`; labels unchanged.
 * [n, H, W, C] uint8 in, [n, H, W, C] uint8 out.
 */
export function stampDataset(ds: Dataset, attack: Attack, indices?: ArrayLike<number>): Dataset {
  const size = imageSize(ds);
  const images = new Uint8Array(ds.images); // a copy (Buffer.prototype.slice would share memory)
  const stamp = (i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new Error(`stampDataset: index ${i} is outside [0, ${ds.n})`);
    attack.stampImage(images.subarray(i * size, (i + 1) * size), ds.height, ds.width, ds.channels);
  };
  if (indices === undefined) {
    for (let i = 0; i < ds.n; i++) stamp(i);
  } else {
    for (let j = 0; j < indices.length; j++) stamp(indices[j]);
  }
  return { ...ds, images, labels: ds.labels.slice() };
}

/**
 * The ASR set: triggered copies of the images whose true label is not `target`, keeping their true labels
 * (ASR = share of these the model assigns to `target`). Order follows `ds`.
 */
export function poisonTestSet(ds: Dataset, attack: Attack, target: number): Dataset {
  if (!Number.isInteger(target) || target < 0 || target >= ds.classNames.length) {
    throw new Error(`poisonTestSet: target ${target} is outside [0, ${ds.classNames.length})`);
  }
  const keep: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.labels[i] !== target) keep.push(i);
  return stampDataset(subset(ds, keep), attack);
}

/** Options of {@link poisonTrainSet}. */
export interface PoisonOptions {
  /** The backdoor's target class (5 in the paper's CIFAR-10 experiments). */
  target: number;
  /** Share of the whole training set to poison: 0.1 for poison-label attacks, 0.08 for clean-label ones. */
  rate: number;
  /** Chooses which images are poisoned. */
  rng: Rng;
  /** Defaults to the attack's own kind. */
  kind?: PoisonKind;
}

/**
 * Builds a poisoned training set, with the plan of the PyTorch zoo (tools/zoo/attacks.py `poison_indices`):
 * poison-label: round(rate * n) images drawn among those whose label is not the target are stamped and relabelled
 * to it; clean-label: round(rate * n) images drawn among the target class are stamped and keep their label. Throws
 * if the pool is too small. CL's PGD step happens offline before this; here it only stamps. The draw comes from
 * `rng` (not numpy's generator, so the chosen indices differ from the zoo's). Returns the new dataset and the
 * poisoned indices (ascending).
 */
export function poisonTrainSet(ds: Dataset, attack: Attack, options: PoisonOptions): { dataset: Dataset; poisoned: Int32Array } {
  const { target, rate, rng } = options;
  const kind = options.kind ?? attack.kind;
  if (!Number.isInteger(target) || target < 0 || target >= ds.classNames.length) {
    throw new Error(`poisonTrainSet: target ${target} is outside [0, ${ds.classNames.length})`);
  }
  if (!(rate >= 0 && rate <= 1)) throw new Error(`poisonTrainSet: rate must be in [0, 1], got ${rate}`);
  const count = Math.round(rate * ds.n);
  const pool: number[] = [];
  for (let i = 0; i < ds.n; i++) if ((ds.labels[i] === target) === (kind === 'clean-label')) pool.push(i);
  if (count > pool.length) {
    const what = kind === 'clean-label' ? `images of class ${target}` : `images outside class ${target}`;
    throw new Error(`poisonTrainSet: ${kind} rate ${rate} needs ${count} ${what}, there are ${pool.length}`);
  }
  // Partial Fisher-Yates: the first `count` slots become a uniform sample without replacement.
  const order = Int32Array.from(pool);
  for (let j = 0; j < count; j++) {
    const k = j + rng.int(order.length - j);
    const tmp = order[j];
    order[j] = order[k];
    order[k] = tmp;
  }
  const poisoned = order.slice(0, count).sort();
  const dataset = stampDataset(ds, attack, poisoned);
  if (kind === 'poison-label') for (const i of poisoned) dataset.labels[i] = target;
  return { dataset, poisoned };
}
