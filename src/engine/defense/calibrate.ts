/**
 * Measures how fast the active backend runs the three kinds of pass a defense makes ({@link WorkRates}): a few
 * timed batches of each after one untimed warm-up (which absorbs kernel compilation). Used to pick the fastest
 * backend and to say, before a run, how long it will take.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../model/wrn';
import { crossEntropy } from './losses';
import { inversionObjective } from './invert';
import { gradientsOf, trainableVariables } from './optim';
import type { WorkRates } from './plan';

/** How much to measure. */
export interface CalibrationOptions {
  /** Images per timed batch (default 16). */
  batch?: number;
  /** Timed batches per kind of pass, after one warm-up (default 2). */
  steps?: number;
  /** Give up on the rest once this many ms have passed (default: no limit); rates so far stand. */
  budgetMs?: number;
}

/** The measured rates, and whether the time budget cut the measurement short. */
export interface Calibration extends WorkRates {
  /** Wall time of the whole measurement, warm-ups included (ms). */
  ms: number;
  /**
   * True when the budget ran out before every kind of pass was timed. An untimed kind then gets the rate of the
   * kind timed before it (forward, then training, then inversion): an upper bound, since a training or an
   * inversion step costs more than a forward pass.
   */
  partial: boolean;
}

/** Times `fn` (which returns a tensor to read back) once untimed, then `steps` times; resolves to images/s. */
async function timeIt(fn: () => tf.Tensor, images: number, steps: number, deadline: number): Promise<number | null> {
  const run = async () => {
    const t = fn();
    await t.data();
    t.dispose();
  };
  await run();
  if (Date.now() >= deadline) return null;
  const t0 = Date.now();
  for (let i = 0; i < steps; i++) await run();
  return (images * steps) / Math.max((Date.now() - t0) / 1000, 1e-6);
}

/**
 * Measures forward, training and inversion rates of `model` (outputs [features, logits]) on the active backend.
 * The model is left as it was: training steps compute gradients and drop them (the update itself is a small share
 * of a step), and the BatchNorm running statistics their training-mode forward moves are restored. Leaks no tensors.
 */
export async function measureRates(model: tf.LayersModel, opts: CalibrationOptions = {}): Promise<Calibration> {
  const batch = opts.batch ?? 16;
  const steps = opts.steps ?? 2;
  const start = Date.now();
  const deadline = opts.budgetMs === undefined ? Infinity : start + opts.budgetMs;
  const [, h, w, c] = model.inputs[0].shape as number[];
  const numClasses = model.outputs[1].shape[1] as number;
  const x = tf.randomUniform([batch, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % numClasses), 'int32');
  const mask = tf.tidy(() => tf.variable(tf.fill([h, w], 0.5), true)); // [H, W]
  const pattern = tf.tidy(() => tf.variable(tf.fill([h, w, c], 0.5), true)); // [H, W, C]
  const vars = trainableVariables(model);
  // A training-mode forward updates the BatchNorm running statistics (non-trainable weights): keep copies.
  const running = model.nonTrainableWeights.map((w) => tf.clone(w.read()));
  try {
    const fwd = await timeIt(() => tf.tidy(() => forward(model, x, false).logits), batch, steps, deadline);
    if (fwd === null) {
      const bound = batch / ((Date.now() - start) / 1000); // the warm-up alone took this long
      return { forward: bound, train: bound, invert: bound, ms: Date.now() - start, partial: true };
    }
    const train = await timeIt(
      () =>
        tf.tidy(() => {
          const { value, grads } = gradientsOf(() => crossEntropy(forward(model, x, true).logits, y), vars);
          return tf.addN([value, ...grads.filter((g): g is tf.Tensor => g !== null).map((g) => tf.sum(g))]);
        }),
      batch,
      steps,
      deadline,
    );
    const invert =
      train === null
        ? null
        : await timeIt(
            () =>
              tf.tidy(() => {
                const { value, grads } = tf.variableGrads(() => inversionObjective(model, x, mask, pattern, 0, 0.01).loss, [mask, pattern]);
                return tf.addN([value, tf.sum(grads[mask.name]), tf.sum(grads[pattern.name])]);
              }),
            batch,
            steps,
            deadline,
          );
    return {
      forward: fwd,
      train: train ?? fwd,
      invert: invert ?? train ?? fwd,
      ms: Date.now() - start,
      partial: train === null || invert === null,
    };
  } finally {
    model.nonTrainableWeights.forEach((w, i) => w.write(running[i]));
    tf.dispose([x, y, mask, pattern, ...running]);
  }
}
