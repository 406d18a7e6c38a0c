/**
 * Measurements during a defense run: BA and ASR on a fixed evaluation subset (ASR with the true attack when the
 * caller knows it, and with the inverted trigger), and penultimate features of a fixed probe set (clean images of
 * every class plus triggered copies) for a live t-SNE, with their merge figure (./merge.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { batches, type Dataset, indicesByClass, subset } from '../data/dataset';
import { evaluateBackdoor, type LabeledImages, type PixelTransform, predict } from '../metrics';
import { forward } from '../model/wrn';
import type { Rng } from '../random';
import type { DefenseStage, EvalPoint, ProbeFeaturesEvent } from './events';
import type { TriggerTensors } from './invert';
import { mergeFigure } from './merge';

/** Images per evaluation / probe batch. */
const EVAL_BATCH = 128;

/** The true attack: a batch transform, or an already stamped set of the evaluation set's non-target images. */
export type TrueTrigger = PixelTransform | LabeledImages;

/** What {@link evaluatePoint} measures on (fixed for a run). */
export interface EvalPlan {
  /** The evaluation subset, or null without an evaluation set. */
  set: Dataset | null;
  /** The true attack (stamped sets cut to the same size) and its target, when known. */
  trueTrigger: TrueTrigger | null;
  trueTarget: number | null;
}

function sortedSample(n: number, k: number, rng: Rng): Int32Array {
  return rng.permutation(n).subarray(0, Math.min(k, n)).sort();
}

function cutLabeled(ds: LabeledImages, idx: Int32Array): LabeledImages {
  const size = ds.height * ds.width * ds.channels;
  const images = new Uint8Array(idx.length * size);
  const labels = new Int32Array(idx.length);
  idx.forEach((i, j) => {
    images.set(ds.images.subarray(i * size, (i + 1) * size), j * size);
    labels[j] = ds.labels[i];
  });
  return { images, labels, n: idx.length, height: ds.height, width: ds.width, channels: ds.channels };
}

/** Draws the evaluation subset (`size` 0: the whole set) and cuts a stamped true-trigger set to match. */
export function makeEvalPlan(evalSet: Dataset | undefined, size: number, trueTrigger: TrueTrigger | undefined, trueTarget: number | null, rng: Rng): EvalPlan {
  if (!evalSet) return { set: null, trueTrigger: null, trueTarget };
  const set = size > 0 && size < evalSet.n ? subset(evalSet, sortedSample(evalSet.n, size, rng.fork('clean'))) : evalSet;
  let trig: TrueTrigger | null = trueTrigger ?? null;
  if (trig && typeof trig !== 'function' && size > 0 && size < trig.n) trig = cutLabeled(trig, sortedSample(trig.n, size, rng.fork('stamped')));
  return { set, trueTrigger: trueTarget === null ? null : trig, trueTarget };
}

/** Indices of `ds` whose label is not `target`. */
export function nonTargetIndices(ds: LabeledImages, target: number): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.labels[i] !== target) out.push(i);
  return Int32Array.from(out);
}

/**
 * BA, true ASR and inverted-trigger ASR of `model` on the plan's subset (all null without one).
 * @param signal checked between batches (an aborted signal stops the evaluation)
 */
export async function evaluatePoint(
  model: tf.LayersModel,
  plan: EvalPlan,
  inverted: TriggerTensors | null,
  invertedTarget: number | null,
  signal?: { aborted: boolean; reason?: unknown },
): Promise<EvalPoint> {
  const none: EvalPoint = { ba: null, asrTrue: null, asrInverted: null, nClean: 0, nAsr: 0 };
  if (!plan.set) return none;
  const useTrue = plan.trueTrigger !== null && plan.trueTarget !== null;
  const r = await evaluateBackdoor(model, plan.set, useTrue ? plan.trueTrigger : null, plan.trueTarget ?? 0, { batchSize: EVAL_BATCH, signal, numClasses: plan.set.classNames.length });
  let asrInverted: number | null = null;
  let nInv = 0;
  if (inverted && invertedTarget !== null) {
    const idx = nonTargetIndices(plan.set, invertedTarget);
    const pred = await predict(model, plan.set, { batchSize: EVAL_BATCH, transform: inverted.apply, indices: idx, signal });
    asrInverted = pred.reduce((s, p) => s + (p === invertedTarget ? 1 : 0), 0) / Math.max(1, idx.length);
    nInv = idx.length;
  }
  return { ba: r.ba, asrTrue: useTrue ? r.asr : null, asrInverted, nClean: r.nClean, nAsr: useTrue ? r.nAsr : nInv, perClass: r.perClass };
}

/** The fixed probe set of a run. */
export interface ProbePlan {
  /** Clean probe images, `perClass` of every class (fewer where a class has fewer). */
  clean: Dataset;
  /** Images to trigger (the clean probes outside the target class), or already stamped ones. */
  toTrigger: Dataset | null;
  /** 'true': transform or stamped copies of the true attack; 'inverted': the inverted trigger. */
  trigger: ProbeFeaturesEvent['trigger'];
  /** The true attack's transform when trigger = 'true' and the copies are not pre-stamped. */
  transform: PixelTransform | null;
  labels: Int32Array;
  triggered: Uint8Array;
  /** The class the triggered copies were made for (null without copies). */
  target: number | null;
}

/**
 * Picks the probe images from `source` (the evaluation set, else the clean set) and decides their triggered
 * copies: the true attack when known (a transform; or a stamped set aligned with `source`'s non-target images,
 * as poisonTestSet builds it), else the inverted trigger, else none.
 */
export function makeProbePlan(
  source: Dataset,
  perClass: number,
  trueTrigger: TrueTrigger | undefined,
  trueTarget: number | null,
  invertedTarget: number | null,
  rng: Rng,
): ProbePlan {
  const chosen: number[] = [];
  indicesByClass(source).forEach((members, c) => {
    const r = rng.fork(c);
    chosen.push(...Array.from(r.shuffle(members).slice(0, perClass)).sort((a, b) => a - b));
  });
  const clean = subset(source, chosen);
  let trigger: ProbePlan['trigger'] = 'none';
  let toTrigger: Dataset | null = null;
  let transform: PixelTransform | null = null;
  const target = trueTrigger && trueTarget !== null ? trueTarget : invertedTarget;
  if (target !== null) {
    const keep = chosen.filter((i) => source.labels[i] !== target);
    if (trueTrigger && trueTarget !== null && typeof trueTrigger === 'function') {
      trigger = 'true';
      transform = trueTrigger;
      toTrigger = subset(source, keep);
    } else if (trueTrigger && trueTarget !== null && typeof trueTrigger !== 'function' && trueTrigger.n === nonTargetIndices(source, trueTarget).length) {
      // poisonTestSet keeps the non-target images in order: the j-th non-target image of source is stamped image j.
      const rank = new Int32Array(source.n).fill(-1);
      nonTargetIndices(source, trueTarget).forEach((i, j) => (rank[i] = j));
      trigger = 'true';
      toTrigger = subset({ ...source, images: trueTrigger.images, labels: Int32Array.from(trueTrigger.labels), n: trueTrigger.n }, keep.map((i) => rank[i]));
    } else if (invertedTarget !== null) {
      trigger = 'inverted';
      toTrigger = subset(source, chosen.filter((i) => source.labels[i] !== invertedTarget));
    }
  }
  const nT = toTrigger?.n ?? 0;
  const labels = new Int32Array(clean.n + nT);
  labels.set(clean.labels);
  if (toTrigger) labels.set(toTrigger.labels, clean.n);
  const triggered = new Uint8Array(clean.n + nT).fill(1, clean.n);
  return { clean, toTrigger, trigger, transform, labels, triggered, target: toTrigger ? target : null };
}

async function featuresOf(model: tf.LayersModel, ds: Dataset, transform: PixelTransform | null, out: Float32Array, offset: number): Promise<number> {
  let dim = 0;
  let row = offset;
  for (const b of batches(ds, EVAL_BATCH)) {
    const f = tf.tidy(() => forward(model, transform ? transform(b.x) : b.x, false).features); // [B, D]
    tf.dispose([b.x, b.y]);
    dim = f.shape[1];
    out.set(await f.data(), row * dim);
    row += f.shape[0];
    f.dispose();
  }
  return dim;
}

/**
 * The probe-features event of `model`: penultimate features [N, D] of the probe set (clean rows first, then
 * triggered copies, inference mode) and their merge figure.
 */
export async function probeEvent(model: tf.LayersModel, plan: ProbePlan, inverted: TriggerTensors | null, stage: DefenseStage, epoch: number): Promise<ProbeFeaturesEvent> {
  const { features, dim } = await probeFeatures(model, plan, inverted);
  const merge = mergeFigure(features, dim, plan.labels, plan.triggered, plan.target);
  return { type: 'probe-features', stage, epoch, features, dim, labels: plan.labels.slice(), triggered: plan.triggered.slice(), trigger: plan.trigger, merge };
}

/** Penultimate features [N, D] of the probe set (clean rows first, then triggered copies), inference mode. */
export async function probeFeatures(model: tf.LayersModel, plan: ProbePlan, inverted: TriggerTensors | null): Promise<{ features: Float32Array; dim: number }> {
  const dim = model.outputs[0].shape[1] as number;
  const features = new Float32Array(plan.labels.length * dim);
  await featuresOf(model, plan.clean, null, features, 0);
  if (plan.toTrigger) {
    const transform = plan.trigger === 'inverted' ? (inverted?.apply ?? null) : plan.transform;
    if (plan.trigger === 'inverted' && !inverted) throw new Error('probe features: the inverted trigger is not available');
    await featuresOf(model, plan.toTrigger, transform, features, plan.clean.n);
  }
  return { features, dim };
}
