/**
 * Training-mode BatchNorm on WebGPU as five project kernels, behind the op in ../batchNormTrain.ts (which names them) (x viewed as
 * [R, C], channels last; every statistic is per channel over the R rows):
 *
 * | kernel              | inputs -> output                                   | dispatches |
 * |---------------------|----------------------------------------------------|------------|
 * | MclBnStats          | x, runMean?, runVar? -> [2, C] mean and biased variance, [new runMean, new runVar] | 2 (split reduction; chunks merged exactly, running averages updated in the same pass) |
 * | MclBnApply          | x, stats, scale?, offset? -> y                     | 1          |
 * | MclBnGradSums       | dy, x, stats -> [dOffset [C], dScale [C]]          | 2 (one read of dy and x, one finishing pass) |
 * | MclBnGradInput      | dy, x, stats, scale?, dOffset, dScale -> dx        | 1          |
 *
 * With xhat = (x - mean) * invStd, invStd = 1 / sqrt(var + eps), g = scale * invStd:
 *   dOffset = sum(dy),  dScale = sum(dy * xhat),  dx = g * (dy - dOffset / R - xhat * dScale / R)
 * which is the whole chain rule through the batch mean and variance in closed form. The running averages:
 *   runMean' = m * runMean + (1 - m) * mean,   runVar' = m * runVar + (1 - m) * var * R / (R - 1)
 * Passes with several outputs go through multiOutput.ts.
 *
 * The statistics: each split thread sums its chunk of rows shifted by the chunk's first value (so the chunk's
 * mean and sum of squared deviations stay accurate when |mean| >> std), and the finishing pass merges the chunks
 * in order with the parallel-variance update (count, mean, M2), so no E[x^2] - E[x]^2 cancellation anywhere.
 */
import { util, type TensorInfo } from '@tensorflow/tfjs';
import type { KernelArgs } from '../override';
export { BN_TRAIN_KERNELS } from '../batchNormTrain';
import { runMultiOutput } from './multiOutput';
import { f32, flatProgram, splitReduction, type WebGPUBackendLike } from './program';

/** Attributes of MclBnApply, MclBnGradSums and MclBnGradInput. */
export interface BnAttrs {
  epsilon: number;
}

const rowsAndChannels = (x: TensorInfo): [number, number] => {
  const C = x.shape[x.shape.length - 1];
  return [util.sizeFromShape(x.shape) / C, C];
};

const backendOf = (args: KernelArgs) => args.backend as WebGPUBackendLike;

/**
 * MclBnStats: {x, movingMean?, movingVariance?} (attrs: momentum, the fraction kept) -> [stats [2, C]: row 0 the
 * mean, row 1 the biased variance] and, when the running averages are given, their updated values.
 */
export function bnStatsWebGPU(args: KernelArgs): TensorInfo[] {
  const { x } = args.inputs;
  const [R, C] = rowsAndChannels(x);
  const { splits, chunk } = splitReduction(R, C);
  const partial = backendOf(args).runWebGPUProgram(
    flatProgram(`mcl_bnstats_part_${R}_${C}_${splits}_${chunk}`, ['x'], [splits, 2, C], splits * C, `
    fn main(index : i32) {
      if (index >= ${splits * C}) { return; }
      let s = index / ${C};
      let c = index % ${C};
      let r0 = s * ${chunk};
      let r1 = min(r0 + ${chunk}, ${R});
      let k = x[r0 * ${C} + c];
      var s1 = 0.0;
      var s2 = 0.0;
      for (var r = r0; r < r1; r++) {
        let d = x[r * ${C} + c] - k;
        s1 += d;
        s2 += d * d;
      }
      let n = f32(r1 - r0);
      result[(s * 2) * ${C} + c] = k + s1 / n;
      result[(s * 2 + 1) * ${C} + c] = max(s2 - s1 * s1 / n, 0.0);
    }`),
    [x],
    'float32',
  );
  const { movingMean, movingVariance } = args.inputs;
  const running = movingMean != null && movingVariance != null;
  const { momentum } = (args.attrs ?? {}) as { momentum?: number };
  const keep = momentum ?? 0;
  const unbias = R > 1 ? R / (R - 1) : 1;
  const outs = runMultiOutput(backendOf(args), {
    key: `mcl_bnstats_merge_${R}_${C}_${splits}_${chunk}_${running ? keep : 'none'}`,
    outputs: running ? [[2, C], [C], [C]] : [[2, C]],
    inputNames: running ? ['partial', 'runMean', 'runVar'] : ['partial'],
    threads: C,
    body: `
      var n = 0.0;
      var mean = 0.0;
      var m2 = 0.0;
      for (var s = 0; s < ${splits}; s++) {
        let nb = f32(min((s + 1) * ${chunk}, ${R}) - s * ${chunk});
        let d = partial[(s * 2) * ${C} + index] - mean;
        let total = n + nb;
        mean += d * nb / total;
        m2 += partial[(s * 2 + 1) * ${C} + index] + d * d * n * nb / total;
        n = total;
      }
      let variance = m2 / ${f32(R)};
      out0[index] = mean;
      out0[${C} + index] = variance;${running ? `
      out1[index] = runMean[index] * ${f32(keep)} + mean * ${f32(1 - keep)};
      out2[index] = runVar[index] * ${f32(keep)} + variance * ${f32(unbias * (1 - keep))};` : ''}`,
  }, running ? [partial, movingMean, movingVariance] : [partial]);
  backendOf(args).disposeData(partial.dataId);
  return outs;
}

/** Names and inputs of the optional per-channel parameters, in binding order. */
function params(inputs: KernelArgs['inputs'], names: string[]): { names: string[]; tensors: TensorInfo[] } {
  const present = names.filter((n) => inputs[n] != null);
  return { names: present, tensors: present.map((n) => inputs[n]) };
}

const gain = (inputs: KernelArgs['inputs'], eps: number, C: number) =>
  `${inputs.scale != null ? 'scale[c]' : '1.0'} * inverseSqrt(stats[${C} + c] + ${f32(eps)})`;

/** MclBnApply: {x, stats, scale?, offset?} -> y = (x - mean) * g + offset. */
export function bnApplyWebGPU(args: KernelArgs): TensorInfo {
  const { x, stats } = args.inputs;
  const { epsilon } = args.attrs as unknown as BnAttrs;
  const [R, C] = rowsAndChannels(x);
  const n = R * C;
  const p = params(args.inputs, ['scale', 'offset']);
  const code = `
    fn main(index : i32) {
      if (index >= ${n}) { return; }
      let c = index % ${C};
      result[index] = (x[index] - stats[c]) * ${gain(args.inputs, epsilon, C)} + ${args.inputs.offset != null ? 'offset[c]' : '0.0'};
    }`;
  const key = `mcl_bnapply_${n}_${C}_${epsilon}_${p.names.join('')}`;
  return backendOf(args).runWebGPUProgram(flatProgram(key, ['x', 'stats', ...p.names], x.shape, n, code), [x, stats, ...p.tensors], 'float32');
}

/** MclBnGradSums: {dy, x, stats} -> [dOffset [C], dScale [C]] (see the file comment). */
export function bnGradSumsWebGPU(args: KernelArgs): TensorInfo[] {
  const { dy, x, stats } = args.inputs;
  const { epsilon } = args.attrs as unknown as BnAttrs;
  const [R, C] = rowsAndChannels(x);
  const { splits, chunk } = splitReduction(R, C);
  const partial = backendOf(args).runWebGPUProgram(
    flatProgram(`mcl_bngrad_part_${R}_${C}_${splits}_${chunk}`, ['dy', 'x', 'stats'], [splits, 2, C], splits * C, `
    fn main(index : i32) {
      if (index >= ${splits * C}) { return; }
      let s = index / ${C};
      let c = index % ${C};
      let mean = stats[c];
      var a0 = 0.0;
      var a1 = 0.0;
      for (var r = s * ${chunk}; r < min((s + 1) * ${chunk}, ${R}); r++) {
        let i = r * ${C} + c;
        let g = dy[i];
        a0 += g;
        a1 += g * (x[i] - mean);
      }
      result[(s * 2) * ${C} + c] = a0;
      result[(s * 2 + 1) * ${C} + c] = a1;
    }`),
    [dy, x, stats],
    'float32',
  );
  const out = runMultiOutput(backendOf(args), {
    key: `mcl_bngrad_sums_${C}_${splits}_${epsilon}`,
    outputs: [[C], [C]],
    inputNames: ['partial', 'stats'],
    threads: C,
    body: `
      var a0 = 0.0;
      var a1 = 0.0;
      for (var s = 0; s < ${splits}; s++) {
        a0 += partial[(s * 2) * ${C} + index];
        a1 += partial[(s * 2 + 1) * ${C} + index];
      }
      out0[index] = a0;
      out1[index] = a1 * inverseSqrt(stats[${C} + index] + ${f32(epsilon)});`,
  }, [partial, stats]);
  backendOf(args).disposeData(partial.dataId);
  return out;
}

/** MclBnGradInput: {dy, x, stats, scale?, dOffset, dScale} -> dx (see the file comment). */
export function bnGradInputWebGPU(args: KernelArgs): TensorInfo {
  const { dy, x, stats, dOffset, dScale } = args.inputs;
  const { epsilon } = args.attrs as unknown as BnAttrs;
  const [R, C] = rowsAndChannels(x);
  const n = R * C;
  const p = params(args.inputs, ['scale']);
  const code = `
    fn main(index : i32) {
      if (index >= ${n}) { return; }
      let c = index % ${C};
      let invStd = inverseSqrt(stats[${C} + c] + ${f32(epsilon)});
      let xhat = (x[index] - stats[c]) * invStd;
      let g = ${p.names.length ? 'scale[c]' : '1.0'} * invStd;
      result[index] = g * (dy[index] - (dOffset[c] + xhat * dScale[c]) / ${f32(R)});
    }`;
  const names = ['dy', 'x', 'stats', 'dOffset', 'dScale', ...p.names];
  const inputs = [dy, x, stats, dOffset, dScale, ...p.tensors];
  const key = `mcl_bngradx_${n}_${C}_${epsilon}_${p.names.join('')}`;
  return backendOf(args).runWebGPUProgram(flatProgram(key, names, x.shape, n, code), inputs, 'float32');
}
