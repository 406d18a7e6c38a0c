/**
 * The project's WGSL kernels on tfjs-backend-webgpu (4.22), registered the way ../wasmTraining.ts registers the
 * wasm ones: each replaces the stock kernel in front of it (../override.ts) and declines what it does not cover.
 *
 * | kernel                | stock webgpu                                         | here                              |
 * |-----------------------|------------------------------------------------------|-----------------------------------|
 * | Conv2DBackpropFilter  | one thread per filter element walks all B*OH*OW      | tiled product, split reduction (convGradients.ts) |
 * | Conv2DBackpropInput   | tfjs's matmul-style program                          | tiled product on implicit im2col  |
 * | FusedBatchNorm        | one pass                                             | one pass, 1-D parameters          |
 * | Sum, Mean (leading)   | transpose, then reduce                               | split column sums, no transpose (batchNorm.ts) |
 * | MclBatchNormGradStats | (project kernel)                                     | sum(dy), sum(dy*(x-mean)) in one read |
 * | MclReluGrad           | (project kernel)                                     | x > 0 ? dy : 0 in one pass        |
 * | MclBnInferenceGrad    | (project kernel)                                     | eval-mode BN's dx in one pass     |
 * | MclSgdMomentum, MclAdam | (project kernels)                                  | one dispatch per variable (optimizer.ts) |
 * | MclBn* (4)            | (project kernels)                                    | training BatchNorm: stats and running averages, apply, closed-form backward (batchNormTrain.ts) |
 * and, while webgpu is the active backend, the FusedBatchNorm, Relu, Mean and Sum gradients of gradients.ts.
 * Imports only @tensorflow/*: the page registers them too (src/platform/browser/backend.ts).
 */
import { getGradient, registerGradient, registerKernel, unregisterKernel, type GradConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
// The webgpu backend's stock kernels are registered on import; they must exist before they are wrapped below.
import '@tensorflow/tfjs-backend-webgpu';
import { type KernelArgs, type Override, overrideKernel } from '../override';
import { BN_GRAD_STATS, BN_INFERENCE_GRAD, bnGradStatsWebGPU, bnInferenceGradWebGPU, fusedBatchNormWebGPU, meanLeadingWebGPU, RELU_GRAD, reluGradWebGPU, sumLeadingWebGPU } from './batchNorm';
import { BN_TRAIN_KERNELS, bnApplyWebGPU, bnGradInputWebGPU, bnGradSumsWebGPU, bnStatsWebGPU } from './batchNormTrain';
import { adamWebGPU, OPTIMIZER_KERNELS, sgdMomentumWebGPU } from './optimizer';
import { conv2dBackpropFilterWebGPU, conv2dBackpropInputWebGPU } from './convGradients';
import { WEBGPU_GRADIENTS } from './gradients';
import { WEBGPU } from './program';

/** Names of the kernels this module replaces or adds on webgpu (for profiles and docs). */
export const WEBGPU_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'FusedBatchNorm', 'Sum', 'Mean', BN_GRAD_STATS, BN_INFERENCE_GRAD, RELU_GRAD, ...Object.values(BN_TRAIN_KERNELS), ...Object.values(OPTIMIZER_KERNELS)] as const;

/** The project kernels this module adds (no stock kernel behind them). */
const ADDED: Array<[string, (args: KernelArgs) => TensorInfo | TensorInfo[]]> = [
  [BN_GRAD_STATS, bnGradStatsWebGPU],
  [RELU_GRAD, reluGradWebGPU],
  [BN_INFERENCE_GRAD, bnInferenceGradWebGPU],
  [BN_TRAIN_KERNELS.stats, bnStatsWebGPU],
  [BN_TRAIN_KERNELS.apply, bnApplyWebGPU],
  [BN_TRAIN_KERNELS.gradSums, bnGradSumsWebGPU],
  [BN_TRAIN_KERNELS.gradInput, bnGradInputWebGPU],
  [OPTIMIZER_KERNELS.sgd, sgdMomentumWebGPU],
  [OPTIMIZER_KERNELS.adam, adamWebGPU],
];

let overrides: Override[] | null = null;
let stockGrads: GradConfig[] = [];

/** Registers the WGSL kernels and webgpu gradients. Idempotent; works before or after the backend initializes. */
export function registerWebGPUKernels(): void {
  if (overrides != null) return;
  overrides = [
    overrideKernel('Conv2DBackpropFilter', WEBGPU, conv2dBackpropFilterWebGPU),
    overrideKernel('Conv2DBackpropInput', WEBGPU, conv2dBackpropInputWebGPU),
    overrideKernel('FusedBatchNorm', WEBGPU, fusedBatchNormWebGPU),
    overrideKernel('Sum', WEBGPU, sumLeadingWebGPU),
    overrideKernel('Mean', WEBGPU, meanLeadingWebGPU),
  ];
  for (const [kernelName, f] of ADDED) registerKernel({ kernelName, backendName: WEBGPU, kernelFunc: f as KernelFunc });
  for (const [name, make] of WEBGPU_GRADIENTS) {
    const stock = getGradient(name);
    if (stock == null) continue;
    stockGrads.push(stock);
    registerGradient(make(stock));
  }
}

/** Puts tfjs-backend-webgpu's kernels and the previous gradients back (tests and benchmarks compare). */
export function unregisterWebGPUKernels(): void {
  if (overrides == null) return;
  for (const o of overrides.reverse()) o.restore();
  overrides = null;
  for (const [kernelName] of ADDED) unregisterKernel(kernelName, WEBGPU);
  for (const g of stockGrads) registerGradient(g);
  stockGrads = [];
}

/** Whether the WGSL kernels are registered now. */
export function webgpuKernelsRegistered(): boolean {
  return overrides != null;
}
