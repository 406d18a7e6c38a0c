/**
 * Training-mode BatchNorm (channels last) as one differentiable op, for model/batchNorm.ts's layer.
 *
 * Where the backend has the project's BatchNorm kernels (webgpu/batchNormTrain.ts), the op is the statistics
 * pass (two dispatches, which also update the running averages) and one normalizing pass forward, and a
 * closed-form backward (dScale and dOffset from one read of dy and x, then one pass for dx): 3 + 3 dispatches,
 * where tfjs-layers' composition (tf.moments, then tf.batchNorm, each differentiated op by op) takes dozens. The gradient is tf.customGrad's, so the tape sees
 * one node; the mean and variance reach dx through the closed form, not through the tape.
 *
 * Elsewhere (cpu, wasm) the op is the composition tfjs-layers uses, so those backends keep their own
 * FusedBatchNorm gradients (../gradients.ts on wasm) and their arithmetic.
 *
 * Both paths also update the running averages as PyTorch does (the variance unbiased, where tfjs-layers uses the
 * biased one); on the fused path that happens inside the statistics pass.
 */
import * as tf from '@tensorflow/tfjs';

/** Kernel names of the fused path (registered on webgpu by webgpu/register.ts). */
export const BN_TRAIN_KERNELS = {
  stats: 'MclBnStats',
  apply: 'MclBnApply',
  gradSums: 'MclBnGradSums',
  gradInput: 'MclBnGradInput',
} as const;

/** Whether the active backend has every kernel of the fused path. */
export function fusedBatchNormAvailable(): boolean {
  const backend = tf.getBackend();
  return Object.values(BN_TRAIN_KERNELS).every((k) => tf.getKernel(k, backend) != null);
}

/** Running averages to update: `momentum` is the fraction kept (tfjs-layers' convention; PyTorch's 0.1 is 0.9). */
export interface RunningStats {
  mean: tf.Tensor;
  variance: tf.Tensor;
  momentum: number;
}

/** Options of {@link batchNormTrain}. */
export interface BatchNormTrainOptions {
  /** Running averages to update with this batch's moments (new tensors are returned; the inputs are kept). */
  running?: RunningStats;
}

/** The op's output and, when asked for, the updated running averages. */
export interface BatchNormTrainResult {
  y: tf.Tensor;
  running?: { mean: tf.Tensor; variance: tf.Tensor };
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

/** Named optional parameters, dropping absent ones (the kernels bind only what they are given). */
function optional(entries: Record<string, tf.Tensor | null | undefined>): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(entries)) if (v != null) out[k] = v;
  return out;
}

/**
 * y = scale * (x - mean) / sqrt(var + epsilon) + offset with the batch's per-channel moments over every axis
 * but the last, differentiable in x, scale and offset; and the running averages
 * after this batch: m * running + (1 - m) * moment, the variance unbiased (times R / (R - 1), R = values per
 * channel), as PyTorch updates running_var.
 * @param x [..., C] float32, rank >= 2
 * @param scale [C] or null (no scaling)
 * @param offset [C] or null (no offset)
 */
export function batchNormTrain(x: tf.Tensor, scale: tf.Tensor | null, offset: tf.Tensor | null, epsilon: number, opts: BatchNormTrainOptions = {}): BatchNormTrainResult {
  if (x.rank < 2) throw new Error(`batchNormTrain: x must be [..., C] with rank >= 2; got [${x.shape}]`);
  const { running } = opts;
  const R = x.size / x.shape[x.rank - 1];
  if (!fusedBatchNormAvailable() || x.dtype !== 'float32') {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    // tfjs's tape cannot differentiate tf.batchNorm without scale or offset: constants stand in for absent ones.
    const y = tf.batchNorm(x, mean, variance, offset ?? tf.zerosLike(mean), scale ?? tf.onesLike(mean), epsilon);
    const unbias = R > 1 ? R / (R - 1) : 1;
    const average = (old: tf.Tensor, v: tf.Tensor, f: number, m: number) => tf.add(tf.mul(old, m), tf.mul(v, f * (1 - m)));
    return {
      y,
      running: running && { mean: average(running.mean, mean, 1, running.momentum), variance: average(running.variance, variance, unbias, running.momentum) },
    };
  }
  const K = BN_TRAIN_KERNELS;
  const attrs = { epsilon };
  const [stats, newMean, newVariance] = run(K.stats, { x, ...optional({ movingMean: running?.mean, movingVariance: running?.variance }) }, { momentum: running?.momentum ?? 0 }) as tf.Tensor[];
  const params = [scale, offset].filter((p): p is tf.Tensor => p != null);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xIn, ...ps] = args as tf.Tensor[];
    const scaleIn = scale != null ? ps[0] : null;
    const offsetIn = offset != null ? ps[ps.length - 1] : null;
    const y = run(K.apply, { x: xIn, stats, ...optional({ scale: scaleIn, offset: offsetIn }) }, attrs) as tf.Tensor;
    save([xIn, stats, ...(scaleIn ? [scaleIn] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, st, sc] = saved;
        const [dOffset, dScale] = run(K.gradSums, { dy, x: xs, stats: st }, attrs) as tf.Tensor[];
        const dx = run(K.gradInput, { dy, x: xs, stats: st, dOffset, dScale, ...optional({ scale: sc }) }, attrs) as tf.Tensor;
        return [dx, ...(scale != null ? [dScale] : []), ...(offset != null ? [dOffset] : [])];
      },
    };
  });
  return { y: op(x, ...params), running: running && { mean: newMean, variance: newVariance } };
}
