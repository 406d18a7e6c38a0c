/**
 * Stage 1: Neural Cleanse trigger inversion, as docs/design.md states it.
 *
 * Mask m [H, W] (shared by the channels) and pattern p [H, W, C], both in [0, 1]; x' = (1 - m) * x + m * p.
 * Minimize CE(f(x'), target) + lambda * |m|_1 with Adam (lr 0.005), batch 64, up to 100 epochs over the clean
 * set, stopping after `patience` (30) epochs without the mask's L1 norm improving; m and p are clipped to [0, 1]
 * after each step and start uniform random from the run's seed. The backdoored model is frozen, in inference mode.
 * Optionally (`converge`, the class preset's lever) the inversion ends as soon as the trigger works and the mask
 * has stopped shrinking, instead of running out its epoch budget.
 * (Neural Cleanse's public code optimizes tanh-parameterized variables instead of clipping; DESIGN says clip.)
 */
import * as tf from '@tensorflow/tfjs';
import { applyMaskTrigger } from '../attacks/mask';
import { batches, type Dataset } from '../data/dataset';
import type { PixelTransform } from '../metrics';
import { forward } from '../model/wrn';
import type { Rng } from '../random';
import type { InversionConfig, InversionConvergence } from './config';
import type { RunControl } from './control';
import type { DefenseEvent, InvertedTrigger } from './events';
import { crossEntropyToClass } from './losses';
import { Adam } from './optim';

/** The inversion objective on one batch, and the statistics the UI shows. */
export interface InversionObjective {
  /** CE + lambda * maskL1. */
  loss: tf.Scalar;
  ce: tf.Scalar;
  /** sum of m. */
  maskL1: tf.Scalar;
  /** Share of the triggered batch classified as the target. */
  attackRate: tf.Scalar;
}

/**
 * CE(f((1 - m) x + m p), target) + lambda * sum(m), the model in inference mode. Differentiable in m and p.
 * x [B, H, W, C] in [0, 1]; mask [H, W]; pattern [H, W, C].
 */
export function inversionObjective(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  mask: tf.Tensor,
  pattern: tf.Tensor,
  target: number,
  lambda: number,
): InversionObjective {
  return tf.tidy(() => {
    const { logits } = forward(model, applyMaskTrigger(x, mask, pattern), false); // [B, K]
    const ce = crossEntropyToClass(logits, target);
    const maskL1 = tf.sum(tf.abs(mask)) as tf.Scalar;
    const loss = tf.add(ce, tf.mul(maskL1, lambda)) as tf.Scalar;
    const attackRate = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), target), 'float32')) as tf.Scalar;
    return { loss, ce, maskL1, attackRate };
  });
}

/** A finished trigger on the device, as a batch transform. Dispose it when done. */
export class TriggerTensors {
  readonly mask: tf.Tensor2D; // [H, W]
  readonly pattern: tf.Tensor3D; // [H, W, C]

  constructor(t: Pick<InvertedTrigger, 'mask' | 'pattern' | 'height' | 'width' | 'channels'>) {
    this.mask = tf.tensor2d(t.mask, [t.height, t.width]);
    this.pattern = tf.tensor3d(t.pattern, [t.height, t.width, t.channels]);
  }

  /** x [B, H, W, C] -> (1 - m) x + m p; x is not disposed. */
  readonly apply: PixelTransform = (x) => applyMaskTrigger(x, this.mask, this.pattern);

  dispose(): void {
    tf.dispose([this.mask, this.pattern]);
  }
}

/** Reads a tensor into a fresh Float32Array (never the backend's own buffer, so it may be transferred). */
export async function readFloats(t: tf.Tensor): Promise<Float32Array> {
  return new Float32Array(await t.data());
}

/** Per-epoch history of an inversion, for the convergence test. */
interface EpochRecord {
  rate: number;
  maskL1: number;
  /** Smallest mask L1 of an epoch that reached the convergence rate so far (Infinity: none yet). */
  bestWorking?: number;
}

/**
 * True when the last `cv.epochs` epochs all reached the attack rate and the mask L1 shrank by less than the
 * fraction `cv.shrink` over them (compared with the L1 `cv.epochs` epochs before the last). With a lambda
 * schedule (`cv.lambda`) it is the smallest working mask that must have stopped shrinking, however the last
 * epochs' rates went. Never before `cv.minEpochs` epochs.
 */
export function hasConverged(history: readonly EpochRecord[], cv: InversionConvergence): boolean {
  if (history.length < cv.epochs + 1 || history.length < (cv.minEpochs ?? 0)) return false;
  if (cv.lambda) {
    const then = history[history.length - 1 - cv.epochs].bestWorking ?? Infinity;
    const now = history[history.length - 1].bestWorking ?? Infinity;
    return Number.isFinite(then) && then - now < cv.shrink * then;
  }
  const recent = history.slice(-cv.epochs);
  if (recent.some((r) => r.rate < cv.rate)) return false;
  const then = history[history.length - 1 - cv.epochs].maskL1;
  const now = history[history.length - 1].maskL1;
  return then - now < cv.shrink * then;
}

/**
 * Inverts the trigger of class `target` on the clean set, emitting 'inversion-step', 'inversion-epoch',
 * 'inversion-snapshot' and finally 'inversion-result'; returns the trigger (plain data).
 * @param rng this inversion's stream (the initial mask/pattern and the epochs' shuffles fork from it)
 */
export async function* invertTrigger(
  model: tf.LayersModel,
  clean: Dataset,
  target: number,
  cfg: InversionConfig,
  rng: Rng,
  control: RunControl,
): AsyncGenerator<DefenseEvent, InvertedTrigger, void> {
  const { height: h, width: w, channels: c } = clean;
  if (clean.n === 0) throw new Error('trigger inversion needs at least one clean image');
  const init = rng.fork('init');
  const m0 = new Float32Array(h * w).map(() => init.next());
  const p0 = new Float32Array(h * w * c).map(() => init.next());
  const mask = tf.tidy(() => tf.variable(tf.tensor2d(m0, [h, w]), true)); // [H, W]
  const pattern = tf.tidy(() => tf.variable(tf.tensor3d(p0, [h, w, c]), true)); // [H, W, C]
  const adam = new Adam([mask, pattern], cfg.lr, cfg.beta1, cfg.beta2, cfg.epsilon);
  let step = 0;
  let epoch = 0;
  let best = Infinity;
  let stale = 0;
  let stoppedEarly = false;
  let converged = false;
  let lastRate = 0;
  const history: EpochRecord[] = [];
  // The lambda schedule (converge.lambda): the current cost, and the smallest working mask so far with its pattern.
  const schedule = cfg.converge?.lambda ?? null;
  let lambda = cfg.lambda;
  let bestWorking = Infinity;
  let kept: { mask: tf.Tensor; pattern: tf.Tensor; rate: number } | null = null;
  try {
    for (; epoch < cfg.epochs; epoch++) {
      const sums = { loss: 0, ce: 0, rate: 0, n: 0 };
      let budgetLeft = true;
      for (const batch of batches(clean, cfg.batchSize, undefined, { rng: rng.fork(epoch) })) {
        let stats: Float32Array;
        try {
          const kept: tf.Tensor[] = [];
          const { value, grads } = tf.variableGrads(() => {
            const o = inversionObjective(model, batch.x, mask, pattern, target, lambda);
            kept.push(tf.keep(o.ce), tf.keep(o.maskL1), tf.keep(o.attackRate));
            return o.loss;
          }, [mask, pattern]);
          const packed = tf.stack([value, ...kept]); // [4]: loss, ce, L1, rate
          tf.dispose([value, ...kept]);
          adam.step([grads[mask.name], grads[pattern.name]], [0, 1]); // mask and pattern stay in [0, 1]
          tf.dispose(Object.values(grads));
          stats = await readFloats(packed);
          packed.dispose();
        } finally {
          tf.dispose([batch.x, batch.y]);
        }
        step++;
        const [loss, ce, maskL1, attackRate] = stats;
        sums.loss += loss;
        sums.ce += ce;
        sums.rate += attackRate;
        sums.n++;
        yield { type: 'inversion-step', target, epoch, step, loss, ce, maskL1, attackRate };
        // The first step's mask too, so a live view has a picture right away.
        if (cfg.snapshotEvery > 0 && (step === 1 || step % cfg.snapshotEvery === 0)) {
          const m = await readFloats(mask);
          yield { type: 'inversion-snapshot', target, step, epoch, mask: m, maskL1: m.reduce((a, b) => a + b, 0), pattern: await readFloats(pattern), height: h, width: w, channels: c };
        }
        await control.tick();
        if (cfg.maxSteps > 0 && step >= cfg.maxSteps) {
          budgetLeft = false;
          break;
        }
      }
      const l1Now = tf.tidy(() => tf.sum(mask));
      const maskL1 = (await l1Now.data())[0];
      l1Now.dispose();
      if (maskL1 < best) {
        best = maskL1;
        stale = 0;
      } else {
        stale++;
      }
      lastRate = sums.rate / Math.max(1, sums.n);
      yield { type: 'inversion-epoch', target, epoch, loss: sums.loss / sums.n, ce: sums.ce / sums.n, attackRate: lastRate, maskL1, bestMaskL1: best, stale };
      if (!budgetLeft) {
        epoch++;
        break;
      }
      if (cfg.patience > 0 && stale >= cfg.patience) {
        stoppedEarly = true;
        epoch++;
        break;
      }
      if (schedule && cfg.converge) {
        const works = lastRate >= cfg.converge.rate;
        if (works && maskL1 < bestWorking) {
          bestWorking = maskL1;
          if (kept) tf.dispose([kept.mask, kept.pattern]);
          kept = { mask: tf.clone(mask), pattern: tf.clone(pattern), rate: lastRate };
        }
        lambda = works ? lambda * schedule.up : lambda / schedule.down;
      }
      history.push({ rate: lastRate, maskL1, bestWorking });
      if (cfg.converge && hasConverged(history, cfg.converge)) {
        stoppedEarly = true;
        converged = true;
        epoch++;
        break;
      }
    }
    // With the lambda schedule the result is the smallest mask that worked (the last one may have broken).
    const m = await readFloats(kept ? kept.mask : mask);
    if (kept) lastRate = kept.rate;
    const result: InvertedTrigger = {
      target,
      mask: m,
      pattern: await readFloats(kept ? kept.pattern : pattern),
      height: h,
      width: w,
      channels: c,
      maskL1: m.reduce((s, v) => s + v, 0),
      attackRate: lastRate,
      epochs: epoch,
      steps: step,
      stoppedEarly,
      converged,
    };
    yield { type: 'inversion-result', ...result, mask: result.mask.slice(), pattern: result.pattern.slice() };
    return result;
  } finally {
    adam.dispose();
    tf.dispose([mask, pattern]);
    if (kept) tf.dispose([kept.mask, kept.pattern]);
  }
}
