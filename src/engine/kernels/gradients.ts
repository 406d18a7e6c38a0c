/**
 * Gradients that run faster on the WASM backend, each used only while the active backend is the one it was
 * registered for: tfjs gradients are global (tf.registerGradient), so every config here checks the backend and
 * otherwise calls tfjs-core's own (`stock`). All are the same math as tfjs-core's; the tests compare against cpu.
 *
 * FusedBatchNorm: y = (x - mean) * g + offset, g = scale * invStd, invStd = 1 / sqrt(variance + eps), x [..., C],
 * the rest [C]; sums over all leading axes:
 *   dx = dy * g                              (a broadcast multiply; tfjs-core tiles g to x's shape first)
 *   dmean = -g * sum(dy)          doffset = sum(dy)
 *   dvar = -0.5 * scale * invStd^3 * S      dscale = invStd * S,   S = sum(dy * (x - mean))
 *   S and sum(dy) come from one read of dy and x (MclBatchNormGradStats, simdGradOps.ts) where tfjs-core writes
 *   x - mean and its product first. Each thunk computes only what it needs: the engine calls just those whose
 *   input is on the gradient path (e.g. only dx through an eval-mode BN when inverting a trigger).
 * Mean, Sum: dx = tile(dy / N) instead of dy * ones(x.shape) / N. `ones` fills a JS array and uploads it: ~80 ms
 *   of a 900 ms WRN-16-1 step in a JS profile, plus GC; the Tile runs as block copies (copies.ts).
 * Relu: dx = x > 0 ? dy : 0 in one SIMD pass (MclReluGrad) instead of mul(dy, step(x)).
 */
import { add, engine, getBackend, mul, neg, reshape, rsqrt, scalar, slice, sub, sum, tile, util, type GradConfig, type Tensor } from '@tensorflow/tfjs';
import { BN_GRAD_STATS, RELU_GRAD, simdGradOpsUsable } from './simdGradOps';

type GradFunc = GradConfig['gradFunc'];
const first = (dy: Tensor | Tensor[]) => (Array.isArray(dy) ? dy[0] : dy);

/** Wraps `fast` so it runs only on `backendName` (and when it does not decline with null). */
function onBackend(kernelName: string, backendName: string, stock: GradConfig, fast: (...a: Parameters<GradFunc>) => ReturnType<GradFunc> | null): GradConfig {
  return {
    kernelName,
    inputsToSave: stock.inputsToSave,
    outputsToSave: stock.outputsToSave,
    saveAllInputs: stock.saveAllInputs,
    gradFunc: (dy, saved, attrs) => (getBackend() === backendName ? fast(dy, saved, attrs) : null) ?? stock.gradFunc(dy, saved, attrs),
  };
}

/** FusedBatchNorm's gradient (see file comment); the broadcast-shaped path of tfjs-layers goes to tfjs-core's. */
export function batchNormGradConfig(backendName: string, stock: GradConfig): GradConfig {
  return onBackend('FusedBatchNorm', backendName, stock, (dyIn, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const dy = first(dyIn);
    if (mean.rank !== 1 || variance.rank !== 1 || (scale != null && scale.rank !== 1) || x.rank < 2 || dy.dtype !== 'float32') return null;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const C = x.shape[x.rank - 1];
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i); // all but channels
    const invStd = () => rsqrt(add(variance, scalar(eps))); // [C]
    const g = () => (scale == null ? invStd() : mul(scale, invStd())); // [C]
    const S = (): Tensor => {
      if (simdGradOpsUsable(backendName, C)) {
        const stats = engine().runKernel(BN_GRAD_STATS, { dy, x, mean }) as Tensor; // [2, C]
        return reshape(slice(stats, [1, 0], [1, C]), [C]);
      }
      return sum(mul(dy, sub(x, mean)), axes);
    };
    return {
      x: () => mul(dy, g()), // [..., C] * [C]
      mean: () => neg(mul(g(), sum(dy, axes))),
      variance: () => {
        const s = invStd();
        const k = mul(mul(mul(s, s), s), scalar(-0.5));
        return mul(scale == null ? k : mul(k, scale), S());
      },
      scale: () => mul(invStd(), S()),
      offset: () => reshape(sum(dy, axes), mean.shape),
    };
  });
}

/** dy [reduced shape] -> dx [x.shape]: each dy value divided by `divisor`, repeated over the reduced axes. */
function spread(dy: Tensor, x: Tensor, axis: number | number[], divisor: number): Tensor {
  const axes = util.parseAxisParam(axis, x.shape);
  const keep = x.shape.slice();
  const reps = x.shape.map(() => 1);
  for (const a of axes) {
    keep[a] = 1;
    reps[a] = x.shape[a];
  }
  return tile(reshape(divisor === 1 ? dy : mul(dy, scalar(1 / divisor)), keep), reps);
}

function reduceGradConfig(kernelName: 'Mean' | 'Sum', backendName: string, stock: GradConfig): GradConfig {
  return onBackend(kernelName, backendName, stock, (dyIn, saved, attrs) => {
    const [x] = saved;
    const dy = first(dyIn);
    if (dy.dtype !== 'float32') return null;
    const axis = (attrs as { axis: number | number[] }).axis;
    const n = kernelName === 'Mean' ? util.sizeFromShape(util.parseAxisParam(axis, x.shape).map((a) => x.shape[a])) : 1;
    return { x: () => spread(dy, x, axis, n) };
  });
}

/** Mean's gradient (see file comment). */
export const meanGradConfig = (backendName: string, stock: GradConfig) => reduceGradConfig('Mean', backendName, stock);
/** Sum's gradient (see file comment). */
export const sumGradConfig = (backendName: string, stock: GradConfig) => reduceGradConfig('Sum', backendName, stock);

/** Relu's gradient (see file comment). */
export function reluGradConfig(backendName: string, stock: GradConfig): GradConfig {
  return onBackend('Relu', backendName, stock, (dyIn, saved) => {
    const [x] = saved;
    const dy = first(dyIn);
    if (dy.dtype !== 'float32' || x.dtype !== 'float32' || !simdGradOpsUsable(backendName, x.size)) return null;
    return { x: () => engine().runKernel(RELU_GRAD, { dy, x }) as Tensor };
  });
}

/** The gradient configs this module provides, by kernel name. */
export const WASM_GRADIENTS: Array<[string, (backendName: string, stock: GradConfig) => GradConfig]> = [
  ['FusedBatchNorm', batchNormGradConfig],
  ['Mean', meanGradConfig],
  ['Sum', sumGradConfig],
  ['Relu', reluGradConfig],
];
