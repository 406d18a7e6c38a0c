/**
 * The fine-tuning loop every training stage shares (MCLDef purification, MCLDef+ correction, FT, NC unlearning,
 * NAD teacher and student): epochs over the clean set shuffled by the run's Rng, random crop + flip per batch,
 * SGD with momentum and weight decay on a piecewise-constant learning rate, one 'purify-step' event per step and
 * one 'purify-epoch' per epoch. What differs between methods is only the per-batch loss ({@link StageLoss}).
 */
import * as tf from '@tensorflow/tfjs';
import { randomCropFlip } from '../data/augment';
import { batchCount, batches, type Dataset } from '../data/dataset';
import type { Rng } from '../random';
import { type DefenseConfig, type LrSchedule, lrAt } from './config';
import type { RunControl } from './control';
import type { DefenseEvent, DefenseStage, EvalPoint } from './events';
import { gradientsOf, SgdMomentum, trainableVariables } from './optim';

/** A batch loss and its named parts (scalars; parts are reported, not differentiated). */
export interface StepLoss {
  loss: tf.Scalar;
  parts: Record<string, tf.Scalar>;
}

/**
 * A method's per-batch loss. `prepare` runs outside the gradient tape (frozen-model features, triggered copies);
 * `loss` runs inside it and must put the trained model in training mode. x: [B, H, W, C] augmented clean batch;
 * y: [B] labels. Neither function disposes its inputs; prepared tensors are disposed by the loop.
 */
export interface StageLoss {
  prepare?: (x: tf.Tensor4D, y: tf.Tensor1D) => tf.Tensor[];
  loss: (x: tf.Tensor4D, y: tf.Tensor1D, prepared: tf.Tensor[]) => StepLoss;
}

/** One training stage. */
export interface TrainSpec {
  stage: DefenseStage;
  /** Trained in place (its trainable weights). */
  model: tf.LayersModel;
  epochs: number;
  lr: LrSchedule;
  loss: StageLoss;
  /** Called after each epoch (epoch, isLast); may emit events, returns the epoch's measurements or null. */
  afterEpoch?: (epoch: number, isLast: boolean) => AsyncGenerator<DefenseEvent, EvalPoint | null, void>;
}

/** Work done by a stage. */
export interface TrainStats {
  steps: number;
  images: number;
}

const NO_EVAL: EvalPoint = { ba: null, asrTrue: null, asrInverted: null, nClean: 0, nAsr: 0 };

/**
 * Runs a training stage on the clean set. Epoch e shuffles with rng.fork(e).fork('shuffle') and augments with
 * rng.fork(e).fork('augment'), so a seed fixes the whole stage.
 */
export async function* trainStage(
  spec: TrainSpec,
  clean: Dataset,
  cfg: Pick<DefenseConfig, 'batchSize' | 'momentum' | 'weightDecay' | 'augment' | 'maxStepsPerEpoch'>,
  rng: Rng,
  control: RunControl,
): AsyncGenerator<DefenseEvent, TrainStats, void> {
  if (clean.n === 0) throw new Error('fine-tuning needs at least one clean image');
  const vars = trainableVariables(spec.model);
  const sgd = new SgdMomentum(vars, cfg.momentum, cfg.weightDecay);
  const full = batchCount(clean.n, cfg.batchSize);
  const stepsPerEpoch = cfg.maxStepsPerEpoch > 0 ? Math.min(full, cfg.maxStepsPerEpoch) : full;
  const augmenting = cfg.augment.padding > 0 || cfg.augment.flip;
  const stats: TrainStats = { steps: 0, images: 0 };
  try {
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      const t0 = Date.now();
      const lr = lrAt(spec.lr, epoch);
      const er = rng.fork(epoch);
      const augRng = er.fork('augment');
      let lossSum = 0;
      let step = 0;
      for (const batch of batches(clean, cfg.batchSize, undefined, { rng: er.fork('shuffle') })) {
        let values: Float32Array;
        let names: string[];
        const owned: tf.Tensor[] = [batch.x, batch.y];
        try {
          const x = augmenting ? randomCropFlip(batch.x, augRng, cfg.augment) : batch.x;
          if (x !== batch.x) owned.push(x);
          const prepared = spec.loss.prepare ? tf.tidy(() => spec.loss.prepare!(x, batch.y)) : [];
          owned.push(...prepared);
          let parts: Record<string, tf.Scalar> = {};
          const { value, grads } = gradientsOf(() => {
            const r = spec.loss.loss(x, batch.y, prepared);
            parts = r.parts;
            for (const p of Object.values(parts)) tf.keep(p);
            return r.loss;
          }, vars);
          names = Object.keys(parts);
          owned.push(value, ...Object.values(parts));
          sgd.step(grads, lr);
          tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
          const packed = tf.stack([value, ...names.map((n) => parts[n])]); // [1 + parts]
          values = new Float32Array(await packed.data());
          packed.dispose();
        } finally {
          tf.dispose(owned);
        }
        step++;
        stats.steps++;
        stats.images += batch.indices.length;
        lossSum += values[0];
        const partValues: Record<string, number> = {};
        names.forEach((n, i) => (partValues[n] = values[i + 1]));
        yield { type: 'purify-step', stage: spec.stage, epoch, step, stepsPerEpoch, lr, loss: values[0], parts: partValues };
        await control.tick();
        if (step >= stepsPerEpoch) break;
      }
      const isLast = epoch === spec.epochs - 1;
      const point = spec.afterEpoch ? yield* spec.afterEpoch(epoch, isLast) : null;
      yield { type: 'purify-epoch', stage: spec.stage, epoch, lr, loss: lossSum / Math.max(1, step), seconds: (Date.now() - t0) / 1000, ...(point ?? NO_EVAL) };
      await control.tick();
    }
    return stats;
  } finally {
    sgd.dispose();
  }
}
