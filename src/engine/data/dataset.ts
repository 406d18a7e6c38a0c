/**
 * The engine's in-memory image dataset and the helpers that slice it and feed it to the device in batches.
 *
 * Images stay on the CPU as uint8 (a 50,000-image CIFAR-10 train set is 150 MiB as uint8, 600 MiB as float32);
 * only one batch at a time becomes a float32 tensor in [0, 1]. Pixels are in pixel space: normalization (CIFAR
 * mean/std) belongs to the model, so triggers and augmentation act on raw pixels.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random';

/**
 * An image classification dataset held on the CPU.
 *
 * `images` is [n, height, width, channels] uint8, NHWC, row-major: pixel (i, y, x, c) is at
 * `((i * height + y) * width + x) * channels + c`. `labels` is [n] int32 class ids in [0, classNames.length).
 * Labels are always Int32Array (compact uint8 labels exist only inside the shard format).
 */
export interface Dataset {
  /** [n, height, width, channels] uint8 NHWC. */
  readonly images: Uint8Array;
  /** [n] int32, each in [0, classNames.length). */
  readonly labels: Int32Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Class names by label id (CIFAR-10: airplane, automobile, ..., truck). */
  readonly classNames: readonly string[];
}

/** Fields accepted by {@link createDataset}; labels may be any integer array and are copied to Int32Array. */
export interface DatasetInit {
  images: Uint8Array;
  labels: Int32Array | Uint8Array | ArrayLike<number>;
  height: number;
  width: number;
  channels: number;
  classNames: readonly string[];
}

/** One device batch from {@link batches}: the caller owns (and must dispose) `x` and `y`. */
export interface Batch {
  /** [B, H, W, C] float32 in [0, 1]. */
  x: tf.Tensor4D;
  /** [B] int32 labels. */
  y: tf.Tensor1D;
  /** [B] the dataset indices in the batch, in batch order. */
  indices: Int32Array;
}

/** Bytes per image: height * width * channels. */
export function imageSize(ds: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return ds.height * ds.width * ds.channels;
}

/** Throws an Error naming the first inconsistency: bad dimensions, buffer sizes, labels out of range. */
export function validateDataset(ds: Dataset): void {
  const where = 'Invalid dataset';
  for (const key of ['n', 'height', 'width', 'channels'] as const) {
    const v = ds[key];
    if (!Number.isInteger(v) || v < 0) throw new Error(`${where}: ${key} must be a non-negative integer, got ${v}`);
  }
  if (ds.height === 0 || ds.width === 0 || ds.channels === 0) {
    throw new Error(`${where}: image size ${ds.height}x${ds.width}x${ds.channels} has a zero dimension`);
  }
  if (!(ds.images instanceof Uint8Array)) throw new Error(`${where}: images must be a Uint8Array`);
  if (!(ds.labels instanceof Int32Array)) throw new Error(`${where}: labels must be an Int32Array`);
  if (ds.classNames.length === 0) throw new Error(`${where}: classNames is empty`);
  const expected = ds.n * imageSize(ds);
  if (ds.images.length !== expected) {
    throw new Error(
      `${where}: images has ${ds.images.length} bytes, expected n*height*width*channels = ` +
        `${ds.n}*${ds.height}*${ds.width}*${ds.channels} = ${expected}`,
    );
  }
  if (ds.labels.length !== ds.n) throw new Error(`${where}: labels has ${ds.labels.length} entries, expected n = ${ds.n}`);
  const k = ds.classNames.length;
  for (let i = 0; i < ds.n; i++) {
    const y = ds.labels[i];
    if (y < 0 || y >= k) throw new Error(`${where}: label ${y} at index ${i} is outside [0, ${k}) (${k} classes)`);
  }
}

/** Builds a dataset (n derived from labels), copying labels to Int32Array, and validates it. */
export function createDataset(init: DatasetInit): Dataset {
  const labels = init.labels instanceof Int32Array ? init.labels : Int32Array.from(init.labels as ArrayLike<number>);
  const ds: Dataset = {
    images: init.images,
    labels,
    n: labels.length,
    height: init.height,
    width: init.width,
    channels: init.channels,
    classNames: [...init.classNames],
  };
  validateDataset(ds);
  return ds;
}

function checkIndex(ds: Dataset, i: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new Error(`${what}: index ${i} is outside [0, ${ds.n})`);
}

/** A new dataset holding copies of the images and labels at `indices`, in that order (repeats allowed). */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const size = imageSize(ds);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    checkIndex(ds, i, 'subset');
    images.set(ds.images.subarray(i * size, (i + 1) * size), j * size);
    labels[j] = ds.labels[i];
  }
  return { ...ds, images, labels, n: indices.length };
}

/** Number of images per class: [classNames.length]. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classNames.length).fill(0);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]]++;
  return counts;
}

/** The indices of each class, ascending: result[c] lists the images labelled c. */
export function indicesByClass(ds: Dataset): number[][] {
  const groups = ds.classNames.map(() => [] as number[]);
  for (let i = 0; i < ds.n; i++) groups[ds.labels[i]].push(i);
  return groups;
}

/**
 * Draws the same share of every class: `perClassOrFraction` >= 1 is a count per class (250 for MCLDef's 5% clean
 * split of CIFAR-10 train), a value in (0, 1) a fraction of each class (0.05 -> round(0.05 * 5000) = 250).
 * Throws if a class has fewer images than asked. Returns both parts as ascending indices.
 */
export function classBalancedSplit(
  ds: Dataset,
  perClassOrFraction: number,
  rng: Rng,
): { selected: Int32Array; rest: Int32Array } {
  const v = perClassOrFraction;
  if (!(v > 0) || (v >= 1 && !Number.isInteger(v))) {
    throw new Error(`classBalancedSplit: expected a count >= 1 or a fraction in (0, 1), got ${v}`);
  }
  const picked = new Uint8Array(ds.n);
  indicesByClass(ds).forEach((members, c) => {
    const want = v >= 1 ? v : Math.round(v * members.length);
    if (want > members.length) {
      throw new Error(`classBalancedSplit: class ${c} (${ds.classNames[c]}) has ${members.length} images, asked for ${want}`);
    }
    // Partial Fisher-Yates: the first `want` slots become a uniform sample without replacement.
    for (let j = 0; j < want; j++) {
      const k = j + rng.int(members.length - j);
      const tmp = members[j];
      members[j] = members[k];
      members[k] = tmp;
      picked[members[j]] = 1;
    }
  });
  const selected: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < ds.n; i++) (picked[i] ? selected : rest).push(i);
  return { selected: Int32Array.from(selected), rest: Int32Array.from(rest) };
}

/**
 * Uploads the images and labels at `indices` as one batch: x [B, H, W, C] float32 = uint8 / 255, y [B] int32.
 * The conversion happens on the CPU for just these B images; the caller disposes both tensors.
 */
export function toBatch(ds: Dataset, indices: ArrayLike<number>): Batch {
  const size = imageSize(ds);
  const b = indices.length;
  const pixels = new Float32Array(b * size);
  const labels = new Int32Array(b);
  const idx = new Int32Array(b);
  for (let j = 0; j < b; j++) {
    const i = indices[j];
    checkIndex(ds, i, 'toBatch');
    const src = ds.images.subarray(i * size, (i + 1) * size);
    const off = j * size;
    for (let p = 0; p < size; p++) pixels[off + p] = src[p] / 255;
    labels[j] = ds.labels[i];
    idx[j] = i;
  }
  return {
    x: tf.tensor4d(pixels, [b, ds.height, ds.width, ds.channels], 'float32'),
    y: tf.tensor1d(labels, 'int32'),
    indices: idx,
  };
}

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Shuffle a copy of the indices with this stream first (the given indices are left as they are). */
  rng?: Rng;
  /** Drop a last batch smaller than batchSize (PyTorch's drop_last). Default false. */
  dropLast?: boolean;
}

/**
 * Yields the images at `indices` (all images when omitted) as device batches of `batchSize`, one at a time, so the
 * set is never on the device whole. Each yielded batch belongs to the caller, who disposes `x` and `y`.
 */
export function* batches(
  ds: Dataset,
  batchSize: number,
  indices?: ArrayLike<number>,
  options: BatchOptions = {},
): Generator<Batch, void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
  let order: Int32Array;
  if (indices === undefined) {
    order = new Int32Array(ds.n);
    for (let i = 0; i < ds.n; i++) order[i] = i;
  } else {
    order = Int32Array.from(indices);
  }
  if (options.rng) options.rng.shuffle<number, Int32Array>(order);
  for (let start = 0; start < order.length; start += batchSize) {
    const end = Math.min(start + batchSize, order.length);
    if (options.dropLast && end - start < batchSize) return;
    yield toBatch(ds, order.subarray(start, end));
  }
}

/** Number of batches {@link batches} yields for `count` indices. */
export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}
