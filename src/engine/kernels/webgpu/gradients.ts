/**
 * Gradients that use the WebGPU kernels, each active only while 'webgpu' is the backend (tfjs gradients are
 * global): other backends keep whatever was registered before (tfjs-core's, or the wasm ones).
 *
 * FusedBatchNorm: y = (x - mean) * g + offset, g = scale * invStd, invStd = 1 / sqrt(variance + eps), x [..., C]:
 *   dx = dy * g;  doffset = sum(dy);  dmean = -g * sum(dy);  dscale = invStd * S;
 *   dvar = -0.5 * scale * invStd^3 * S,  with sum(dy) and S = sum(dy * (x - mean)) from one pass over dy and x
 *   (MclBatchNormGradStats) where tfjs-core writes x - mean, its product with dy, then reduces each; dx in one
 *   pass (MclBnInferenceGrad). Only the thunks tfjs calls run: through an eval-mode BatchNorm, dx alone. tfjs runs
 *   each thunk in its own tidy, so they cannot share a tensor: every thunk that needs a sum runs
 *   MclBatchNormGradStats itself, and an eval-mode BatchNorm whose scale and offset both train (purifyBn
 *   'frozen') makes that pass twice, once for doffset and once for dscale (still one kernel each, not three ops).
 *   (Training-mode BatchNorm does not come here: model/batchNorm.ts differentiates it as one op.)
 * Relu: dx = x > 0 ? dy : 0 in one pass (MclReluGrad) instead of mul(dy, step(x)).
 * Mean, Sum: ../gradients.ts's versions (a Tile of dy instead of dy * ones(x.shape)).
 */
import { add, engine, getBackend, mul, neg, reshape, rsqrt, scalar, slice, type GradConfig, type Tensor } from '@tensorflow/tfjs';
import { meanGradConfig, sumGradConfig } from '../gradients';
import { BN_GRAD_STATS, BN_INFERENCE_GRAD, RELU_GRAD } from './batchNorm';
import { WEBGPU } from './program';

type GradFunc = GradConfig['gradFunc'];
const first = (dy: Tensor | Tensor[]) => (Array.isArray(dy) ? dy[0] : dy);

function onWebGPU(stock: GradConfig, fast: (...a: Parameters<GradFunc>) => ReturnType<GradFunc> | null): GradConfig {
  return { ...stock, gradFunc: (dy, saved, attrs) => (getBackend() === WEBGPU ? fast(dy, saved, attrs) : null) ?? stock.gradFunc(dy, saved, attrs) };
}

function batchNormGrad(stock: GradConfig): GradConfig {
  return onWebGPU(stock, (dyIn, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const dy = first(dyIn);
    if (mean.rank !== 1 || variance.rank !== 1 || (scale != null && scale.rank !== 1) || x.rank < 2 || dy.dtype !== 'float32') return null;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const C = x.shape[x.rank - 1];
    // tfjs calls only the thunks whose input is on the gradient path: through an eval-mode BN (trigger
    // inversion) that is dx alone, one pass. Each thunk runs in its own tidy, so one that needs a sum makes it
    // (scale and offset both trained: two stats passes; computing them here instead would cost inversion a pass).
    const invStd = () => rsqrt(add(variance, scalar(eps))); // [C]
    const sumOf = (row: 0 | 1) => {
      const both = engine().runKernel(BN_GRAD_STATS, { dy, x, mean }) as Tensor; // [2, C]: sum(dy), S
      return reshape(slice(both, [row, 0], [1, C]), [C]);
    };
    const g = () => (scale == null ? invStd() : mul(scale, invStd())); // [C]
    return {
      x: () => engine().runKernel(BN_INFERENCE_GRAD, { dy, variance, ...(scale != null ? { scale } : {}) }, { varianceEpsilon: eps }) as Tensor,
      mean: () => neg(mul(g(), sumOf(0))),
      variance: () => {
        const s = invStd();
        return mul(mul(mul(mul(s, s), scale == null ? s : mul(s, scale)), scalar(-0.5)), sumOf(1));
      },
      scale: () => mul(invStd(), sumOf(1)),
      offset: () => reshape(sumOf(0), mean.shape),
    };
  });
}

function reluGrad(stock: GradConfig): GradConfig {
  return onWebGPU(stock, (dyIn, saved) => {
    const [x] = saved;
    const dy = first(dyIn);
    if (dy.dtype !== 'float32' || x.dtype !== 'float32') return null;
    return { x: () => engine().runKernel(RELU_GRAD, { dy, x }) as Tensor };
  });
}

/** The gradient configs for webgpu, by kernel name. */
export const WEBGPU_GRADIENTS: Array<[string, (stock: GradConfig) => GradConfig]> = [
  ['FusedBatchNorm', batchNormGrad],
  ['Relu', reluGrad],
  ['Mean', (stock) => meanGradConfig(WEBGPU, stock)],
  ['Sum', (stock) => sumGradConfig(WEBGPU, stock)],
];
