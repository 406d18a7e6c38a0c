/**
 * The defense's optimizer updates as one dispatch per variable on WebGPU (multi-output programs, see
 * multiOutput.ts), behind defense/optim.ts, which uses them where they are registered:
 *
 * - MclSgdMomentum {param, grad, buffer?, hyper [lr, momentum, weightDecay]} -> [param', buffer']:
 *     g = grad + wd * p;  b' = momentum * b + g (b' = g without a buffer);  p' = p - lr * b'
 *   (torch.optim.SGD with momentum, weight decay, no dampening or Nesterov). Composed, that is 6 dispatches.
 * - MclAdam {param, grad, m, v, hyper [lr / c1, c2, beta1, beta2, eps, lo, hi]} -> [param', m', v']:
 *     m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g^2;  p' = clamp(p - (lr / c1) m' / (sqrt(v' / c2) + eps), lo, hi)
 *   (torch.optim.Adam with bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t; then the projection onto [lo, hi] that
 *   trigger inversion applies to its mask and pattern; +-Infinity for none). Composed, about 12 dispatches.
 *
 * The hyperparameters come in a small tensor (one upload per optimizer step, shared by every variable), so a
 * changing learning rate or Adam's per-step corrections never make a new pipeline.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { KernelArgs } from '../override';
import { runMultiOutput } from './multiOutput';
import type { WebGPUBackendLike } from './program';

export { OPTIMIZER_KERNELS } from '../optimizerKernels';

/** MclSgdMomentum on webgpu (see the file comment). */
export function sgdMomentumWebGPU({ inputs, backend }: KernelArgs): TensorInfo[] {
  const { param, grad, buffer, hyper } = inputs;
  const n = grad.shape.reduce((a, b) => a * b, 1);
  const withBuffer = buffer != null;
  return runMultiOutput(backend as WebGPUBackendLike, {
    key: `mcl_sgd_${n}_${withBuffer ? 1 : 0}`,
    outputs: [param.shape, param.shape],
    inputNames: ['param', 'grad', 'hyper', ...(withBuffer ? ['buffer'] : [])],
    threads: n,
    body: `
      let p = param[index];
      let g = grad[index] + hyper[2] * p;
      let b = ${withBuffer ? 'hyper[1] * buffer[index] + g' : 'g'};
      out0[index] = p - hyper[0] * b;
      out1[index] = b;`,
  }, [param, grad, hyper, ...(withBuffer ? [buffer] : [])]);
}

/** MclAdam on webgpu (see the file comment). */
export function adamWebGPU({ inputs, backend }: KernelArgs): TensorInfo[] {
  const { param, grad, m, v, hyper } = inputs;
  const n = grad.shape.reduce((a, b) => a * b, 1);
  return runMultiOutput(backend as WebGPUBackendLike, {
    key: `mcl_adam_${n}`,
    outputs: [param.shape, param.shape, param.shape],
    inputNames: ['param', 'grad', 'm', 'v', 'hyper'],
    threads: n,
    body: `
      let g = grad[index];
      let m1 = hyper[2] * m[index] + (1.0 - hyper[2]) * g;
      let v1 = hyper[3] * v[index] + (1.0 - hyper[3]) * g * g;
      let p = param[index] - hyper[0] * m1 / (sqrt(v1 / hyper[1]) + hyper[4]);
      out0[index] = min(max(p, hyper[5]), hyper[6]);
      out1[index] = m1;
      out2[index] = v1;`,
  }, [param, grad, m, v, hyper]);
}
