/**
 * What the page measures outside a run: the strip of images with predictions, clean and triggered, and the live
 * BA / ASR. The live evaluation draws its images exactly as a run does ({@link makeEvalPlan} with the run's seed and
 * size), so the model card's figures and a run's "before" figures are one measurement on one set.
 */
import type * as tf from '@tensorflow/tfjs';
import { stampDataset } from '../engine/attacks/poison';
import type { Attack } from '../engine/attacks/types';
import { type Dataset, indicesByClass, subset } from '../engine/data/dataset';
import { evaluatePoint, makeEvalPlan } from '../engine/defense/evaluate';
import { predict } from '../engine/metrics';
import { createRng } from '../engine/random';
import type { QuickEval, StripResult } from './protocol';
import { toRgba } from './rgba';

/**
 * `perClass` images of every class but the target (all classes when it is unknown), clean and with the true
 * trigger (clean again when the attack is unknown), with the model's predictions.
 */
export async function makeStrip(model: tf.LayersModel, ds: Dataset, perClass: number, attack: Attack | null, target: number | null): Promise<StripResult> {
  const idx = indicesByClass(ds)
    .filter((_, c) => c !== target)
    .flatMap((members) => members.slice(0, perClass));
  const part = subset(ds, idx);
  const cleanPred = await predict(model, part);
  let triggeredPred = cleanPred;
  let trig = part;
  if (attack) {
    trig = stampDataset(part, attack);
    triggeredPred = await predict(model, trig);
  }
  const all = Array.from({ length: part.n }, (_, i) => i);
  return {
    clean: toRgba(part, all),
    triggered: toRgba(trig, all),
    height: ds.height,
    width: ds.width,
    labels: Array.from(part.labels),
    cleanPred: Array.from(cleanPred),
    triggeredPred: Array.from(triggeredPred),
  };
}

/**
 * BA and ASR of `model` on the evaluation images a run with this `seed` and `size` measures on (size 0: all).
 * ASR needs the attack and its target; with either unknown it is null (never measured against a guessed class).
 */
export async function quickEval(
  model: tf.LayersModel,
  evalSet: Dataset,
  size: number,
  seed: number,
  attack: Attack | null,
  target: number | null,
  signal?: { aborted: boolean; reason?: unknown },
): Promise<QuickEval> {
  const trigger = attack ? (x: tf.Tensor4D) => attack.applyTensor(x) : undefined;
  const plan = makeEvalPlan(evalSet, size, trigger, target, createRng(seed).fork('eval'));
  const p = await evaluatePoint(model, plan, null, null, signal);
  return { ba: p.ba ?? NaN, asr: p.asrTrue, target, n: p.nClean, nAsr: p.asrTrue === null ? 0 : p.nAsr, perClass: p.perClass ?? [] };
}
