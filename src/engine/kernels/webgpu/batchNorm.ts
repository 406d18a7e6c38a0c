/**
 * BatchNorm's passes and the reductions behind them on WebGPU.
 *
 * - FusedBatchNorm (forward, 1-D mean/variance/offset/scale over the last axis C):
 *     y = (x - mean[c]) * scale[c] / sqrt(variance[c] + eps) + offset[c]    one elementwise pass.
 * - MclBatchNormGradStats {dy, x, mean} -> [2, C]: row 0 = sum(dy), row 1 = sum(dy * (x - mean)) over every
 *   leading axis: the sums behind BatchNorm's scale/offset/mean/variance gradients, reading dy and x once
 *   (the same kernel name and contract as the wasm one in ../simdGradOps.ts).
 * - Sum and Mean over a contiguous block of leading axes (x viewed as [P, R, Q], R reduced): tfjs-backend-webgpu
 *   transposes x to [P*Q, R] first, then reduces. BatchNorm's moments and every bias/BN gradient reduce this way.
 * The reductions are split: pass 1 has each thread add a chunk of ~256+ rows for one column (coalesced across
 * threads), pass 2 adds the chunks (program.ts), so a [64*32*32, 16] reduction runs on thousands of threads.
 */
import { util, type TensorInfo } from '@tensorflow/tfjs';
import type { KernelArgs } from '../override';
import { f32, finishSplits, flatProgram, splitReduction, type WebGPUBackendLike } from './program';

/** Kernel name of the BatchNorm gradient sums (shared with the wasm kernels). */
export const BN_GRAD_STATS = 'MclBatchNormGradStats';

/**
 * Column sums over rows of x viewed as [P, R, Q] -> [outputs, P, Q]: `terms` are WGSL expressions of the
 * element index `i` and column `q` (one sum each), `variableNames` the inputs they read. Returns [outputs*P*Q].
 */
function columnSums(backend: WebGPUBackendLike, key: string, inputs: TensorInfo[], variableNames: string[], P: number, R: number, Q: number, terms: string[], scale: number): TensorInfo {
  const lanes = P * Q;
  const { splits, chunk } = splitReduction(R, lanes);
  const nOut = terms.length;
  const partialShape = [splits, nOut * lanes];
  const code = `
    fn main(index : i32) {
      if (index >= ${splits * lanes}) { return; }
      let s = index / ${lanes};
      let pq = index % ${lanes};
      let p = pq / ${Q};
      let q = pq % ${Q};
      let rEnd = min((s + 1) * ${chunk}, ${R});
      ${terms.map((_, j) => `var acc${j} = 0.0;`).join(' ')}
      for (var r = s * ${chunk}; r < rEnd; r++) {
        let i = (p * ${R} + r) * ${Q} + q;
        ${terms.map((t, j) => `acc${j} += ${t};`).join(' ')}
      }
      ${terms.map((_, j) => `result[(s * ${nOut} + ${j}) * ${lanes} + pq] = acc${j};`).join('\n      ')}
    }`;
  const program = flatProgram(`mcl_colsum_${key}_${P}_${R}_${Q}_${splits}_${chunk}`, variableNames, partialShape, splits * lanes, code);
  const partial = backend.runWebGPUProgram(program, inputs, 'float32');
  return finishSplits(backend, partial, splits, [nOut * lanes], scale);
}

/** Contiguous reduced block [a0, a1] of a shape's axes that is not innermost, or null. */
function leadingBlock(shape: number[], axis: number | number[]): [number, number] | null {
  const axes = util.parseAxisParam(axis, shape).slice().sort((a, b) => a - b);
  if (axes.length === 0) return null;
  const [a0, a1] = [axes[0], axes[axes.length - 1]];
  if (a1 - a0 + 1 !== axes.length || a1 >= shape.length - 1) return null;
  return [a0, a1];
}

const prod = (d: number[]) => d.reduce((p, v) => p * v, 1);

function reduceLeading(args: KernelArgs, mode: 'sum' | 'mean'): TensorInfo | null {
  const { x } = args.inputs;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return null;
  const block = leadingBlock(x.shape, axis);
  if (block == null) return null;
  const [a0, a1] = block;
  const [P, R, Q] = [prod(x.shape.slice(0, a0)), prod(x.shape.slice(a0, a1 + 1)), prod(x.shape.slice(a1 + 1))];
  if (R <= 1 || P * Q === 0) return null;
  const outShape = keepDims ? x.shape.map((d, i) => (i >= a0 && i <= a1 ? 1 : d)) : [...x.shape.slice(0, a0), ...x.shape.slice(a1 + 1)];
  const backend = args.backend as WebGPUBackendLike;
  const flat = columnSums(backend, 'sum', [x], ['x'], P, R, Q, ['x[i]'], mode === 'mean' ? 1 / R : 1);
  // The summed tensor is [P*Q] in row-major order, which is also outShape's order: relabel it.
  return { dataId: flat.dataId, shape: outShape, dtype: 'float32' };
}

/** Fast path for Sum over leading axes (see file comment). */
export const sumLeadingWebGPU = (args: KernelArgs) => reduceLeading(args, 'sum');
/** Fast path for Mean over leading axes (see file comment). */
export const meanLeadingWebGPU = (args: KernelArgs) => reduceLeading(args, 'mean');

/** MclBatchNormGradStats on webgpu: {dy, x, mean} -> [2, C] (see file comment). */
export function bnGradStatsWebGPU({ inputs, backend }: KernelArgs): TensorInfo {
  const { dy, x, mean } = inputs;
  const C = x.shape[x.shape.length - 1];
  const R = util.sizeFromShape(x.shape) / C;
  const flat = columnSums(backend as WebGPUBackendLike, 'bnstats', [dy, x, mean], ['dy', 'x', 'mean'], 1, R, C, ['dy[i]', 'dy[i] * (x[i] - mean[q])'], 1);
  return { dataId: flat.dataId, shape: [2, C], dtype: 'float32' };
}

/** Fast path for FusedBatchNorm on webgpu (see file comment); null lets the stock kernel run. */
export function fusedBatchNormWebGPU({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x, mean, variance, offset, scale } = inputs;
  const C = x.shape[x.shape.length - 1];
  const oneD = (t: TensorInfo | undefined) => t == null || (t.shape.length === 1 && t.shape[0] === C && t.dtype === 'float32');
  if (x.dtype !== 'float32' || x.shape.length < 2 || mean == null || variance == null || ![mean, variance, offset, scale].every(oneD)) return null;
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  const n = util.sizeFromShape(x.shape);
  const names = ['x', 'mean', 'variance', ...(offset ? ['offset'] : []), ...(scale ? ['scale'] : [])];
  const code = `
    fn main(index : i32) {
      if (index >= ${n}) { return; }
      let c = index % ${C};
      let g = ${scale ? 'scale[c]' : '1.0'} * inverseSqrt(variance[c] + ${f32(eps)});
      result[index] = (x[index] - mean[c]) * g + ${offset ? 'offset[c]' : '0.0'};
    }`;
  const program = flatProgram(`mcl_bn_${n}_${C}_${eps}_${offset ? 1 : 0}${scale ? 1 : 0}`, names, x.shape, n, code);
  const ins = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, ins, 'float32');
}

/** Kernel name of FusedBatchNorm's input gradient with fixed statistics (eval mode): dx = dy * scale * invStd. */
export const BN_INFERENCE_GRAD = 'MclBnInferenceGrad';

/** MclBnInferenceGrad on webgpu: {dy, variance, scale?} (attrs: varianceEpsilon) -> dy * scale[c] / sqrt(variance[c] + eps). */
export function bnInferenceGradWebGPU({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, variance, scale } = inputs;
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  const C = dy.shape[dy.shape.length - 1];
  const n = util.sizeFromShape(dy.shape);
  const code = `
    fn main(index : i32) {
      if (index >= ${n}) { return; }
      let c = index % ${C};
      result[index] = dy[index] * ${scale ? 'scale[c] * ' : ''}inverseSqrt(variance[c] + ${f32(eps)});
    }`;
  const names = ['dy', 'variance', ...(scale ? ['scale'] : [])];
  const program = flatProgram(`mcl_bnevalgrad_${n}_${C}_${eps}_${scale ? 1 : 0}`, names, dy.shape, n, code);
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, [dy, variance, ...(scale ? [scale] : [])], 'float32');
}

/** Kernel name of the one-pass Relu gradient (shared with the wasm kernels). */
export const RELU_GRAD = 'MclReluGrad';

/** MclReluGrad on webgpu: {dy, x} -> x > 0 ? dy : 0 in one pass. */
export function reluGradWebGPU({ inputs, backend }: KernelArgs): TensorInfo {
  const { dy, x } = inputs;
  const n = util.sizeFromShape(x.shape);
  const code = `
    fn main(index : i32) {
      if (index < ${n}) { result[index] = select(0.0, dy[index], x[index] > 0.0); }
    }`;
  return (backend as WebGPUBackendLike).runWebGPUProgram(flatProgram(`mcl_relugrad_${n}`, ['dy', 'x'], x.shape, n, code), [dy, x], 'float32');
}
