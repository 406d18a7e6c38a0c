/**
 * Planting a backdoor: fine-tunes a copy of a model on training images of which a share carries the trigger and the
 * target's label (poisoned-label, whatever the attack's own kind: SIG and CL triggers are relabelled too). The
 * optimizer step is the defense's (defense/train.ts trainStage with the FT loss), so planting and FT share one
 * training loop; this module only poisons the data, counts steps and measures BA / ASR every few of them.
 *
 * {@link plantBackdoor} is an async generator of plain-data {@link PlantEvent}s, like runDefense: a caller pauses it
 * by not pulling, aborts it with the signal (or `return()`), and every tensor it made is freed either way.
 */
import * as tf from '@tensorflow/tfjs';
import { classBalancedSplit, classCounts, type Dataset, imageSize, subset } from '../data/dataset';
import { ftStageLoss } from '../defense/baselines';
import { crossEntropy } from '../defense/losses';
import { type AbortSignalLike, DefenseAbortError, driveToEnd, isAbortError, RunControl } from '../defense/control';
import { evaluatePoint, makeEvalPlan } from '../defense/evaluate';
import { cloneModel } from '../defense/run';
import { type StageLoss, trainStage } from '../defense/train';
import { forward } from '../model/wrn';
import { createRng } from '../random';
import { poisonTrainSet, stampDataset } from './poison';
import { PLANT_PREVIEW, type PlantConfigInput, type PlantEvalEvent, type PlantEvent, type PlantSummary, resolvePlantConfig } from './plantConfig';
import type { Attack } from './types';

export * from './plantConfig';

/** What a planting works on. */
export interface PlantDeps {
  /** The model to backdoor, outputs [features, logits]. Not modified or disposed. */
  model: tf.LayersModel;
  /** The attacker's training images (clean labels). */
  train: Dataset;
  /** Test images for BA / ASR during the run. */
  evalSet: Dataset;
  /** The trigger. */
  attack: Attack;
  signal?: AbortSignalLike;
  /** Yield to the event loop every this many steps (default 1; 0: never). */
  yieldEvery?: number;
}

/** The return value: the planted model (a new model the caller owns) and the summary. */
export interface PlantResult {
  model: tf.LayersModel;
  summary: PlantSummary;
}

/** Checks the model and data against the config; throws naming what does not fit. */
function checkDeps(deps: PlantDeps, target: number): void {
  const { model, train, evalSet } = deps;
  if (model.outputs.length !== 2) throw new Error(`plant: the model must output [features, logits]; this one has ${model.outputs.length} outputs`);
  const [, h, w, c] = model.inputs[0].shape;
  const numClasses = model.outputs[1].shape[1] as number;
  for (const [name, ds] of [['training', train], ['evaluation', evalSet]] as const) {
    if (ds.height !== h || ds.width !== w || ds.channels !== c) throw new Error(`plant: the ${name} images are ${ds.height}x${ds.width}x${ds.channels} but the model takes ${h}x${w}x${c}`);
    if (ds.n === 0) throw new Error(`plant: the ${name} set holds no images`);
  }
  if (target >= numClasses) throw new Error(`plant: target ${target} is not a class of this ${numClasses}-class model`);
  if ((classCounts(train)[target] ?? 0) === 0) {
    throw new Error(`plant: the training data has no images of the target class ${target} ("${train.classNames[target] ?? target}"): the model would forget the class it is meant to be pushed to; choose a class the data holds`);
  }
}

/** The training loss: FT's cross-entropy, with BatchNorm in training mode or on its running statistics. */
function plantLoss(model: tf.LayersModel, bn: 'train' | 'frozen'): StageLoss {
  if (bn === 'train') return ftStageLoss(model);
  return { loss: (x, y) => ({ loss: crossEntropy(forward(model, x, false).logits, y), parts: {} }) };
}

/**
 * 'pairs' mode: the batch [B] plus stamped copies of its first round(rate * B) images labelled `target`
 * ([B + k] images; the batch order is already shuffled, so the first k are a random draw).
 */
function pairedLoss(model: tf.LayersModel, attack: Attack, rate: number, target: number, bn: 'train' | 'frozen'): StageLoss {
  return {
    prepare: (x, y) => {
      const b = x.shape[0];
      const k = Math.min(b, Math.round(rate * b));
      if (k === 0) return [x.clone(), y.clone()];
      const head = tf.slice(x, [0, 0, 0, 0], [k, -1, -1, -1]) as tf.Tensor4D;
      return [tf.concat([x, attack.applyTensor(head)], 0), tf.concat([y, tf.fill([k], target, 'int32')], 0)];
    },
    loss: (_x, _y, [xx, yy]) => ({ loss: crossEntropy(forward(model, xx as tf.Tensor4D, bn === 'train').logits, yy as tf.Tensor1D), parts: {} }),
  };
}

/** The first {@link PLANT_PREVIEW} poisoned images with their old and new labels. */
function previewEvent(poisoned: Dataset, original: Dataset, indices: Int32Array): PlantEvent {
  const k = Math.min(PLANT_PREVIEW, indices.length);
  const size = imageSize(poisoned);
  const images = new Uint8Array(k * size);
  const orig = new Int32Array(k);
  const relab = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    const i = indices[j];
    images.set(poisoned.images.subarray(i * size, (i + 1) * size), j * size);
    orig[j] = original.labels[i];
    relab[j] = poisoned.labels[i];
  }
  return { type: 'plant-poisoned', images, height: poisoned.height, width: poisoned.width, channels: poisoned.channels, original: orig, relabelled: relab };
}

/**
 * Plants the backdoor of `deps.attack` into a copy of `deps.model`. Order: plan -> poisoned preview -> eval at step
 * 0 -> steps (an eval every `evalEvery` steps and after the last) -> done. Deterministic for a seed on one backend.
 * @throws Error on bad settings or data (rate outside (0, 1], a target the data has no images of, ...);
 *   DefenseAbortError (name 'AbortError') once `deps.signal` is aborted
 */
export async function* plantBackdoor(input: PlantConfigInput, deps: PlantDeps): AsyncGenerator<PlantEvent, PlantResult, void> {
  const cfg = resolvePlantConfig(input);
  checkDeps(deps, cfg.target);
  const control = new RunControl(deps.signal, deps.yieldEvery ?? 1);
  const rng = createRng(cfg.seed);
  const t0 = Date.now();
  let planted: tf.LayersModel | null = null;
  try {
    control.throwIfAborted();
    const used = cfg.trainImages > 0 && cfg.trainImages < deps.train.n ? subset(deps.train, classBalancedSplit(deps.train, cfg.trainImages / deps.train.n, rng.fork('train')).selected) : deps.train;
    const nonTarget = used.n - (classCounts(used)[cfg.target] ?? 0);
    let trainSet: Dataset = used;
    let idx: Int32Array;
    let poisonedCount: number;
    let preview: PlantEvent;
    if (cfg.mode === 'replace') {
      const wanted = Math.round(cfg.rate * used.n);
      if (wanted > nonTarget) throw new Error(`plant: rate ${cfg.rate} asks for ${wanted} poisoned images but only ${nonTarget} of the ${used.n} training images are outside the target class; lower the rate`);
      if (wanted === 0) throw new Error(`plant: rate ${cfg.rate} of ${used.n} training images poisons none; raise the rate or use more images`);
      const r = poisonTrainSet(used, deps.attack, { target: cfg.target, rate: cfg.rate, rng: rng.fork('poison'), kind: 'poison-label' });
      trainSet = r.dataset;
      idx = r.poisoned;
      poisonedCount = idx.length;
      preview = previewEvent(trainSet, used, idx);
    } else {
      const perBatch = Math.round(cfg.rate * Math.min(cfg.batchSize, used.n));
      if (perBatch === 0) throw new Error(`plant: rate ${cfg.rate} of a batch of ${Math.min(cfg.batchSize, used.n)} stamps no image; raise the rate or the batch size`);
      poisonedCount = perBatch * cfg.steps;
      // The preview: a seeded draw of non-target images, stamped and relabelled as the batches will be.
      const pool = rng.fork('preview').shuffle(Array.from({ length: used.n }, (_, i) => i).filter((i) => used.labels[i] !== cfg.target));
      idx = Int32Array.from(pool.slice(0, PLANT_PREVIEW));
      const stamped = stampDataset(subset(used, idx), deps.attack);
      const relabelled = { ...stamped, labels: new Int32Array(idx.length).fill(cfg.target) };
      preview = previewEvent(relabelled, subset(used, idx), Int32Array.from(idx, (_, j) => j));
    }
    const plan = makeEvalPlan(deps.evalSet, cfg.evalSize, (x) => deps.attack.applyTensor(x), cfg.target, rng.fork('eval'));
    yield {
      type: 'plant-plan',
      attack: deps.attack.title,
      target: cfg.target,
      rate: cfg.rate,
      steps: cfg.steps,
      batchSize: cfg.batchSize,
      evalEvery: cfg.evalEvery,
      trainImages: used.n,
      poisoned: poisonedCount,
      mode: cfg.mode,
      evalImages: plan.set?.n ?? 0,
    };
    yield preview;

    const measure = async (m: tf.LayersModel, step: number): Promise<PlantEvalEvent> => {
      const p = await evaluatePoint(m, plan, null, null, deps.signal);
      return { type: 'plant-eval', step, ba: p.ba ?? NaN, asr: p.asrTrue ?? NaN, nClean: p.nClean, nAsr: p.nAsr, seconds: (Date.now() - t0) / 1000 };
    };
    const before = await measure(deps.model, 0);
    yield before;
    await control.tick();

    planted = await cloneModel(deps.model);
    const m = planted;
    // One step per "epoch" of the shared loop: every step draws a fresh shuffled batch, and the learning-rate
    // schedule (which the loop reads per epoch) is per step. The loop is left after the last step.
    const drop = Math.round(cfg.lrDrop * cfg.steps);
    const lr = drop < cfg.steps ? { milestones: [drop], values: [cfg.lr, cfg.lr / 10] } : { milestones: [], values: [cfg.lr] };
    const stage = trainStage(
      { stage: 'purify', model: m, epochs: cfg.steps, lr, loss: cfg.mode === 'pairs' ? pairedLoss(m, deps.attack, cfg.rate, cfg.target, cfg.bn) : plantLoss(m, cfg.bn) },
      trainSet,
      { batchSize: cfg.batchSize, momentum: cfg.momentum, weightDecay: cfg.weightDecay, augment: cfg.augment, maxStepsPerEpoch: 1 },
      rng.fork('train-loop'),
      control,
    );
    let step = 0;
    let trainMs = 0;
    let images = 0;
    let after = before;
    let tStep = Date.now();
    try {
      for (;;) {
        const r = await stage.next();
        if (r.done) break;
        const e = r.value;
        if (e.type !== 'purify-step') continue;
        step++;
        trainMs += Date.now() - tStep;
        const b = Math.min(cfg.batchSize, trainSet.n);
        images += b + (cfg.mode === 'pairs' ? Math.min(b, Math.round(cfg.rate * b)) : 0); // stamped copies too
        yield { type: 'plant-step', step, steps: cfg.steps, lr: e.lr, loss: e.loss };
        if (step % cfg.evalEvery === 0 || step === cfg.steps) {
          after = await measure(m, step);
          yield after;
        }
        if (step >= cfg.steps) break;
        tStep = Date.now();
      }
    } finally {
      await stage.return(undefined as never); // frees the optimizer state when the loop is left early
    }
    if (!Number.isFinite(after.ba)) throw new Error('plant: the evaluation produced no figures');
    const summary: PlantSummary = {
      config: cfg,
      attack: deps.attack.title,
      trainImages: used.n,
      poisoned: poisonedCount,
      before: { ba: before.ba, asr: before.asr, n: before.nClean },
      after: { ba: after.ba, asr: after.asr, n: after.nClean },
      steps: step,
      trainSeconds: trainMs / 1000,
      totalSeconds: (Date.now() - t0) / 1000,
      imagesPerSecond: images / Math.max(trainMs / 1000, 1e-9),
    };
    yield { type: 'plant-done', summary };
    planted = null; // ownership passes to the caller
    return { model: m, summary };
  } catch (e) {
    if (deps.signal?.aborted && !isAbortError(e)) throw new DefenseAbortError(deps.signal.reason);
    throw e;
  } finally {
    planted?.dispose();
  }
}

/** Drives a planting to its end (control.ts driveToEnd); stops and cleans up if `onEvent` throws. */
export function drivePlant(run: AsyncGenerator<PlantEvent, PlantResult, void>, onEvent?: (e: PlantEvent) => void): Promise<PlantResult> {
  return driveToEnd(run, onEvent);
}
