/**
 * Evaluation: predictions in batches (never a whole data set on the device), BA, ASR, per-class accuracy and the
 * confusion matrix.
 *
 * BA  = accuracy on the clean test set.
 * ASR = share of test images whose true label is not the target that the model assigns to the target once the
 *       trigger is applied.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from './model/wrn';

/** The part of a data set evaluation needs: uint8 NHWC images and integer labels. */
export interface LabeledImages {
  images: Uint8Array; // [N, H, W, C]
  labels: ArrayLike<number>; // [N]
  n: number;
  height: number;
  width: number;
  channels: number;
}

/** A batch transform on [B, H, W, C] pixels in [0, 1], e.g. stamping a trigger. Must not dispose its input. */
export type PixelTransform = (x: tf.Tensor4D) => tf.Tensor4D;

/** Options of batched prediction. */
export interface PredictOptions {
  batchSize?: number;
  /** Applied to each float batch before the model (e.g. a trigger). */
  transform?: PixelTransform;
  /** Indices of the images to predict (default: all). */
  indices?: ArrayLike<number>;
  /** Called after each batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; an aborted signal stops with its reason. */
  signal?: { aborted: boolean; reason?: unknown };
}

/** Copies images `idx` of a uint8 NHWC set into a float [B, H, W, C] tensor in [0, 1]. */
export function batchTensor(ds: LabeledImages, idx: ArrayLike<number>): tf.Tensor4D {
  const px = ds.height * ds.width * ds.channels;
  const buf = new Float32Array(idx.length * px);
  for (let b = 0; b < idx.length; b++) {
    const src = idx[b] * px;
    for (let j = 0; j < px; j++) buf[b * px + j] = ds.images[src + j] / 255;
  }
  return tf.tensor4d(buf, [idx.length, ds.height, ds.width, ds.channels]);
}

function throwIfAborted(signal?: PredictOptions['signal']): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/**
 * Arg-max predictions of `model` on a data set, batch by batch.
 * @returns Int32Array of predicted classes, one per selected image
 */
export async function predict(model: tf.LayersModel, ds: LabeledImages, opts: PredictOptions = {}): Promise<Int32Array> {
  const batchSize = opts.batchSize ?? 256;
  const indices = opts.indices ?? Int32Array.from({ length: ds.n }, (_, i) => i);
  const out = new Int32Array(indices.length);
  for (let start = 0; start < indices.length; start += batchSize) {
    throwIfAborted(opts.signal);
    const idx = Array.prototype.slice.call(indices, start, Math.min(start + batchSize, indices.length)) as number[];
    const pred = tf.tidy(() => {
      const x = batchTensor(ds, idx);
      const input = opts.transform ? opts.transform(x) : x;
      return tf.argMax(forward(model, input).logits, 1);
    });
    out.set(await pred.data(), start);
    pred.dispose();
    opts.onProgress?.(Math.min(start + batchSize, indices.length), indices.length);
  }
  return out;
}

/** K x K confusion matrix, rows = true class, columns = predicted class (row-major). */
export function confusionMatrix(pred: ArrayLike<number>, labels: ArrayLike<number>, k: number): Int32Array {
  const m = new Int32Array(k * k);
  for (let i = 0; i < pred.length; i++) m[labels[i] * k + pred[i]]++;
  return m;
}

/** Accuracy per true class (NaN for a class with no images). */
export function perClassAccuracy(confusion: Int32Array, k: number): number[] {
  return Array.from({ length: k }, (_, c) => {
    let total = 0;
    for (let j = 0; j < k; j++) total += confusion[c * k + j];
    return total ? confusion[c * k + c] / total : NaN;
  });
}

/** Share of predictions equal to labels. */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
  return pred.length ? hit / pred.length : NaN;
}

/** Result of {@link evaluateBackdoor}. */
export interface BackdoorEval {
  /** Clean accuracy in [0, 1]. */
  ba: number;
  /** Attack success rate in [0, 1] over the non-target images; NaN without a trigger. */
  asr: number;
  perClass: number[];
  confusion: Int32Array;
  numClasses: number;
  /** Images the BA and the ASR were measured on. */
  nClean: number;
  nAsr: number;
  /** Raw predictions (clean, and triggered for the non-target images). */
  cleanPred: Int32Array;
  triggeredPred?: Int32Array;
}

/**
 * BA on `ds` and, with a trigger, ASR: the share of triggered non-target images classified as `target`.
 * @param trigger either a batch transform applied to the non-target images of `ds` (e.g. an inverted mask trigger),
 *   or an already stamped set of non-target images (e.g. from poisonTestSet, uint8 as attacks are evaluated), or null
 * @param numClasses size of the confusion matrix (default: 1 + the largest label)
 */
export async function evaluateBackdoor(
  model: tf.LayersModel,
  ds: LabeledImages,
  trigger: PixelTransform | LabeledImages | null,
  target: number,
  opts: Omit<PredictOptions, 'transform' | 'indices'> & { numClasses?: number } = {},
): Promise<BackdoorEval> {
  let k = opts.numClasses ?? 0;
  if (!k) for (let i = 0; i < ds.n; i++) k = Math.max(k, ds.labels[i] + 1);
  const nonTarget: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.labels[i] !== target) nonTarget.push(i);
  const nAsr = trigger === null ? 0 : typeof trigger === 'function' ? nonTarget.length : trigger.n;
  const total = ds.n + nAsr;
  const progress = (offset: number) => (d: number) => opts.onProgress?.(offset + d, total);
  const cleanPred = await predict(model, ds, { ...opts, onProgress: progress(0) });
  const confusion = confusionMatrix(cleanPred, ds.labels, k);
  let asr = NaN;
  let triggeredPred: Int32Array | undefined;
  if (trigger !== null) {
    triggeredPred =
      typeof trigger === 'function'
        ? await predict(model, ds, { ...opts, transform: trigger, indices: nonTarget, onProgress: progress(ds.n) })
        : await predict(model, trigger, { ...opts, onProgress: progress(ds.n) });
    asr = triggeredPred.reduce((s, p) => s + (p === target ? 1 : 0), 0) / Math.max(1, nAsr);
  }
  return {
    ba: accuracy(cleanPred, ds.labels),
    asr,
    perClass: perClassAccuracy(confusion, k),
    confusion,
    numClasses: k,
    nClean: ds.n,
    nAsr,
    cleanPred,
    triggeredPred,
  };
}
