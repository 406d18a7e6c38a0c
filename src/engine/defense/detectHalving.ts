/**
 * Target detection at class speed (our procedure for the class preset; the paper preset keeps Neural Cleanse's
 * one inversion per class, detect.ts). Every candidate class is inverted at once: one batch of clean images is
 * stamped with each alive class's mask and pattern and goes through the model as one [alive * B] batch, so one
 * backward pass moves every mask. After each round the classes whose objective (CE + lambda * L1, what the
 * inversion minimizes) is worst are dropped, keeping the better half (successive halving, as K-Arm prunes its
 * arms), down to `finalists`. Neural Cleanse's anomaly rule then runs on every class's mask norm as it left (the
 * finalists' after the last round); since classes dropped early had fewer steps to shrink, a flag also needs the
 * best finalist's mask to be `margin` times smaller than the runner-up's after the same steps.
 */
import * as tf from '@tensorflow/tfjs';
import { batches, type Dataset } from '../data/dataset';
import { forward } from '../model/wrn';
import type { Rng } from '../random';
import type { DetectionConfig, InversionConfig } from './config';
import type { RunControl } from './control';
import { anomalyReport, type DetectionOutcome } from './detect';
import type { DefenseEvent, InvertedTrigger } from './events';
import { readFloats } from './invert';
import { Adam } from './optim';

/** Neural Cleanse's cost schedule: checked every 5 steps; x1.5 while the mean attack rate over them is >= 0.9, / 1.5^1.5 below. */
const LAMBDA_EVERY = 5;
const LAMBDA_RATE = 0.9;
const LAMBDA_UP = 1.5;
const LAMBDA_DOWN = 1.5 ** 1.5;

/** Per alive class, after one step: [alive] each. */
interface StepStats {
  loss: Float32Array;
  maskL1: Float32Array;
  rate: Float32Array;
}

/**
 * One batched inversion step's objective. x [B, H, W, C]; masks: the alive classes' masks, [H, W] each;
 * patterns: theirs, [H, W, C] each; classes: their class indices. Returns the summed objective (each class's CE +
 * lambda_c * L1: classes do not interact, so each mask gets its own class's gradient; lambda per class) and
 * per-class stats packed as [3, alive] (objective, L1, attack rate).
 */
export function batchedObjective(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  masks: readonly tf.Tensor[],
  patterns: readonly tf.Tensor[],
  classes: readonly number[],
  lambda: readonly number[],
): { loss: tf.Scalar; stats: tf.Tensor2D } {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const a = classes.length;
    const m = tf.reshape(tf.stack(masks as tf.Tensor[]), [a, 1, h, w, 1]); // [A, 1, H, W, 1]
    const p = tf.reshape(tf.stack(patterns as tf.Tensor[]), [a, 1, h, w, c]); // [A, 1, H, W, C]
    const x5 = tf.reshape(x, [1, b, h, w, c]);
    const stamped = tf.reshape(tf.add(tf.mul(tf.sub(1, m), x5), tf.mul(m, p)), [a * b, h, w, c]) as tf.Tensor4D;
    const { logits } = forward(model, stamped, false); // [A * B, K]
    const k = logits.shape[1];
    const targets = tf.tensor1d(classes.flatMap((cls) => new Array<number>(b).fill(cls)), 'int32'); // [A * B]
    const logp = tf.logSoftmax(logits);
    const ce = tf.mean(tf.reshape(tf.neg(tf.sum(tf.mul(logp, tf.oneHot(targets, k)), 1)), [a, b]), 1); // [A]
    const l1 = tf.sum(tf.reshape(m, [a, h * w]), 1); // [A]
    const perClass = tf.add(ce, tf.mul(l1, tf.tensor1d(lambda as number[]))); // [A]
    const hit = tf.cast(tf.equal(tf.argMax(logits, 1), targets), 'float32');
    const rate = tf.mean(tf.reshape(hit, [a, b]), 1); // [A]
    return { loss: tf.sum(perClass) as tf.Scalar, stats: tf.stack([perClass, l1, rate]) as tf.Tensor2D };
  });
}

/** Which classes stay after a round: the `keep` with the lowest mean objective (ties: lower class index). */
export function survivors(alive: readonly number[], meanLoss: readonly number[], keep: number): number[] {
  return alive
    .map((cls, i) => ({ cls, loss: meanLoss[i] }))
    .sort((p, q) => p.loss - q.loss || p.cls - q.cls)
    .slice(0, Math.max(1, keep))
    .map((r) => r.cls)
    .sort((p, q) => p - q);
}

/**
 * Detects the target by batched inversion with successive halving (see the file comment), emitting
 * 'inversion-step' events for the best alive class, a 'detection-class' per class as it leaves (finalists last)
 * and the 'detection-result'. Triggers of every class are returned as they stood when the class left.
 * @param rng detection's stream (initial masks, the batches' shuffles)
 */
export async function* detectByHalving(
  model: tf.LayersModel,
  clean: Dataset,
  numClasses: number,
  inversion: InversionConfig,
  detection: DetectionConfig,
  rng: Rng,
  control: RunControl,
): AsyncGenerator<DefenseEvent, DetectionOutcome, void> {
  if (numClasses < 2) throw new Error(`detection needs at least 2 classes, the model has ${numClasses}`);
  if (clean.n === 0) throw new Error('detection needs at least one clean image');
  const { height: h, width: w, channels: c } = clean;
  const init = rng.fork('init');
  // One variable per class, so a dropped class simply leaves the gradient list (Adam skips it).
  const masks = Array.from({ length: numClasses }, () => tf.tidy(() => tf.variable(tf.tensor2d(new Float32Array(h * w).map(() => detection.initMask * init.next()), [h, w]), true)));
  const patterns = Array.from({ length: numClasses }, () => tf.tidy(() => tf.variable(tf.tensor3d(new Float32Array(h * w * c).map(() => init.next()), [h, w, c]), true)));
  const adam = new Adam([...masks, ...patterns], detection.lr ?? inversion.lr, inversion.beta1, inversion.beta2, inversion.epsilon);
  const triggers: (InvertedTrigger | null)[] = new Array(numClasses).fill(null);
  const l1 = new Array<number>(numClasses).fill(NaN);
  let finalists: number[] = [];
  // Neural Cleanse's cost schedule per class: every LAMBDA_EVERY steps lambda_c grows while class c's attack
  // holds and shrinks when it fails, so each mask heads for the smallest one that still attacks.
  const lambdas = new Array<number>(numClasses).fill(inversion.lambda);
  const rateSum = new Float64Array(numClasses);
  let alive = Array.from({ length: numClasses }, (_, i) => i);
  let step = 0;
  let epoch = 0;
  let done = 0;
  let source = batches(clean, detection.batchSize, undefined, { rng: rng.fork(epoch) });

  /** The trigger of class `cls` as it stands now. */
  const snapshot = async (cls: number, stats: StepStats, i: number): Promise<InvertedTrigger> => {
    const t: InvertedTrigger = {
      target: cls,
      mask: await readFloats(masks[cls]),
      pattern: await readFloats(patterns[cls]),
      height: h,
      width: w,
      channels: c,
      maskL1: stats.maskL1[i],
      attackRate: stats.rate[i],
      epochs: epoch,
      steps: step,
      stoppedEarly: false,
      converged: false,
    };
    return t;
  };

  try {
    for (let round = 0; round < detection.rounds.length; round++) {
      const sum = new Float64Array(alive.length);
      // The round's mean objective over its last half of steps (the first ones still carry the start).
      const from = Math.floor(detection.rounds[round] / 2);
      let last: StepStats | null = null;
      const vars = [...alive.map((cls) => masks[cls]), ...alive.map((cls) => patterns[cls])];
      {
        for (let s = 0; s < detection.rounds[round]; s++) {
          let next = source.next();
          if (next.done) {
            epoch++;
            source = batches(clean, detection.batchSize, undefined, { rng: rng.fork(epoch) });
            next = source.next();
          }
          const batch = next.value!;
          let packed: Float32Array;
          try {
            const kept: tf.Tensor[] = [];
            const { value, grads } = tf.variableGrads(() => {
              const o = batchedObjective(model, batch.x, alive.map((cls) => masks[cls]), alive.map((cls) => patterns[cls]), alive, alive.map((cls) => lambdas[cls]));
              kept.push(tf.keep(o.stats));
              return o.loss;
            }, vars);
            adam.step([...masks, ...patterns].map((v) => grads[v.name] ?? null), [0, 1]);
            tf.dispose([value, ...Object.values(grads)]);
            packed = await readFloats(kept[0]);
            tf.dispose(kept);
          } finally {
            tf.dispose([batch.x, batch.y]);
          }
          step++;
          const a = alive.length;
          last = { loss: packed.slice(0, a), maskL1: packed.slice(a, 2 * a), rate: packed.slice(2 * a, 3 * a) };
          if (s >= from) for (let i = 0; i < a; i++) sum[i] += last.loss[i];
          alive.forEach((cls, i) => (rateSum[cls] += last!.rate[i]));
          if (step % LAMBDA_EVERY === 0) {
            for (const cls of alive) {
              lambdas[cls] = rateSum[cls] / LAMBDA_EVERY >= LAMBDA_RATE ? lambdas[cls] * LAMBDA_UP : lambdas[cls] / LAMBDA_DOWN;
              rateSum[cls] = 0;
            }
          }
          const best = last.loss.indexOf(Math.min(...last.loss));
          yield { type: 'inversion-step', target: alive[best], epoch, step, loss: last.loss[best], ce: last.loss[best] - lambdas[alive[best]] * last.maskL1[best], maskL1: last.maskL1[best], attackRate: last.rate[best] };
          await control.tick();
        }
      }
      if (!last) continue;
      const isLast = round === detection.rounds.length - 1;
      if (isLast) finalists = [...alive];
      const keep = isLast ? [] : survivors(alive, Array.from(sum), Math.max(detection.finalists, Math.ceil(alive.length / 2)));
      for (let i = 0; i < alive.length; i++) {
        const cls = alive[i];
        if (keep.includes(cls)) continue;
        triggers[cls] = await snapshot(cls, last, i);
        l1[cls] = last.maskL1[i];
        done++;
        yield { type: 'detection-class', cls, maskL1: l1[cls], attackRate: last.rate[i], done, total: numClasses };
      }
      if (isLast) break;
      alive = keep;
    }
    // Neural Cleanse's rule on what remains: every class's norm as it left, the finalists' after the last round.
    // Those who left early had fewer steps to shrink, which flatters the finalists; so a flag also needs the
    // best finalist's mask to be `margin` times smaller than the runner-up's, both after the same steps.
    const nc = anomalyReport(l1, detection.threshold, detection.scale);
    const finals = [...finalists].sort((p, q) => l1[p] - l1[q]);
    const clear = finals.length < 2 || l1[finals[1]] >= detection.margin * l1[finals[0]];
    const flaggedAll = clear ? nc.flaggedAll.filter((c) => c === finals[0]) : [];
    const report = { ...nc, flaggedAll, flagged: flaggedAll.length ? flaggedAll[0] : null };
    yield { type: 'detection-result', ...report };
    return { report, triggers: triggers as InvertedTrigger[] };
  } finally {
    adam.dispose();
    tf.dispose([...masks, ...patterns]);
  }
}
