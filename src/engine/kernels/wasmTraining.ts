/**
 * Training on the TensorFlow.js WASM backend (tfjs-backend-wasm 4.22): the kernel it lacks and faster paths for
 * what a per-kernel profile of a WRN-16-1 training step showed dominating (`npm run bench:train` prints that
 * profile and the throughput against PyTorch). Registered for backend 'wasm' only:
 *
 * | kernel                   | stock wasm                              | here                                          |
 * |--------------------------|-----------------------------------------|-----------------------------------------------|
 * | Conv2DBackpropFilter     | missing: conv training fails            | SIMD kernel on NHWC (simdConvFilter.ts); else an XNNPACK conv of transposed operands (conv2dBackpropFilter.ts) |
 * | Conv2DBackpropInput      | scalar loop, ~10x the forward conv      | SIMD scatter kernel (simdConvInput.ts); else phase-split XNNPACK convs (conv2dBackpropInput.ts) |
 * | Conv2D, FusedConv2D      | XNNPACK                                 | stride 1, no bias/activation, Ci >= 8: the scatter kernel, ~15% faster (simdConv2d.ts) |
 * | FusedBatchNorm           | ~5 ms per [64,32,32,16]                 | one SIMD pass (simdBatchNorm.ts)              |
 * | Sum, Mean (leading axes) | transpose, then reduce (~15x slower)    | XNNPACK average pooling (reductions.ts)       |
 * | Tile                     | ~100 ns per element (0.1 s per BN grad) | row copies + doubling copyWithin (copies.ts)  |
 * | Slice                    | copies the whole input, then slices     | block copies of the slice only (copies.ts)    |
 * | Identity, Cast(same)     | full copy (the engine clones every tensor it saves for backprop: ~400 per step) | shared buffer, as on cpu (copies.ts) |
 * and, while wasm is the active backend (gradients are global in tfjs; other backends keep tfjs-core's), the
 * FusedBatchNorm, Mean, Sum and Relu gradients of gradients.ts: no Tile or ones(x.shape), BatchNorm's
 * reductions and Relu's mask in one SIMD pass each (simdGradOps.ts).
 * Every fast path declines what it does not cover and the stock kernel runs, so nothing loses functionality.
 *
 * The SIMD kernels are WebAssembly emitted at run time by a small writer (wasmAsm.ts; no toolchain needed) and
 * instantiated on the backend's own heap (wasmHeap.ts). Where relaxed SIMD exists (Chrome 114+, Firefox 120+,
 * Node only with --experimental-wasm-relaxed-simd) they use fused multiply-add: ~20% faster convolutions.
 *
 * Measured with `npm run bench:train` on a shared 2-core Xeon (another 2-thread training job and browser tests
 * running; load average 5-7), batch 64, best of 2 rounds: before, training failed (no Conv2DBackpropFilter) and
 * the CPU backend trained at ~0.12-0.2 images/s; now the engine trains at ~80-120 images/s (~130 with relaxed
 * SIMD) and runs inference at ~300-410 (~480), which was 0.27x / 0.45x PyTorch 1.13 on 1 thread in the same run
 * (0.31x / 0.53x with relaxed SIMD). The convolutions (forward, dx, dw) each run near 12-15 GMAC/s, about what
 * 128-bit SIMD without FMA gives one core, and take ~65% of a step; most of the rest is BatchNorm's elementwise
 * chain as tfjs-layers composes it (moments + batchNorm + their gradients) and JS bookkeeping (~10%).
 *
 * Threads: tfjs-backend-wasm disables its threaded build in Node (WASM_HAS_MULTITHREAD_SUPPORT is false there)
 * and caps its pool at hardwareConcurrency / 2 in any case, so on a 2-core machine XNNPACK always runs 1 thread.
 * Forcing the threaded build in Node and faking 4 cores to get a 2-thread pool made training slower here (~95
 * against ~115 images/s, same session): the other core was busy, the project's SIMD kernels are single-threaded,
 * and the shared heap makes JS-side heap access slower. Nothing here depends on threads; the kernels also run on
 * the threaded build's shared heap (checked), for cross-origin-isolated browsers.
 *
 * Imports only @tensorflow/* (no node:*, no DOM): the browser's WASM fallback uses it too.
 */
import { getGradient, registerGradient, type GradConfig, type KernelBackend } from '@tensorflow/tfjs';
// Registers the wasm backend and its stock kernels first, so they cannot later overwrite the ones below.
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterVia } from './conv2dBackpropFilter';
import { conv2dBackpropInputVia } from './conv2dBackpropInput';
import { fastSlice, fastTile, shareIdentity, shareSameDtypeCast } from './copies';
import { WASM_GRADIENTS } from './gradients';
import { type KernelArgs, type Override, overrideKernel } from './override';
import { meanOverLeadingAxes, sumOverLeadingAxes } from './reductions';
import { fusedBatchNormSimd } from './simdBatchNorm';
import { conv2dStride1Simd } from './simdConv2d';
import { registerSimdGradOps } from './simdGradOps';

const BACKEND = 'wasm';

/** Names of the kernels this module replaces or adds on wasm (for profiles and docs). */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Conv2D', 'FusedConv2D', 'FusedBatchNorm', 'Sum', 'Mean', 'Tile', 'Slice', 'Identity', 'Cast', 'MclReluGrad', 'MclBatchNormGradStats'] as const;

let overrides: Override[] | null = null;
/** tfjs-core's gradients replaced while registered, restored by unregister. */
let stockGrads: GradConfig[] = [];
let unregisterGradOps: (() => void) | null = null;

type ConvAttrs = Parameters<typeof conv2dBackpropInputVia>[4] & Parameters<typeof conv2dBackpropFilterVia>[4];

/**
 * Registers the project's wasm training kernels and wasm gradients. Idempotent; call it before or after the wasm
 * backend initializes (stock kernels kept as fallbacks are still set up at initialization).
 */
export function registerWasmTrainingKernels(): void {
  if (overrides != null) return;
  const attrs = (a: KernelArgs) => a.attrs as unknown as ConvAttrs;
  overrides = [
    overrideKernel('Conv2DBackpropFilter', BACKEND, (a) =>
      conv2dBackpropFilterVia(BACKEND, a.backend as KernelBackend, a.inputs.x, a.inputs.dy, attrs(a)),
    ),
    overrideKernel('Conv2DBackpropInput', BACKEND, (a) =>
      conv2dBackpropInputVia(BACKEND, a.backend as KernelBackend, a.inputs.dy, a.inputs.filter, attrs(a)),
    ),
    overrideKernel('Conv2D', BACKEND, conv2dStride1Simd),
    overrideKernel('FusedConv2D', BACKEND, conv2dStride1Simd),
    overrideKernel('Tile', BACKEND, fastTile),
    overrideKernel('Slice', BACKEND, fastSlice),
    overrideKernel('Identity', BACKEND, shareIdentity),
    overrideKernel('Cast', BACKEND, shareSameDtypeCast),
    overrideKernel('Sum', BACKEND, sumOverLeadingAxes(BACKEND)),
    overrideKernel('Mean', BACKEND, meanOverLeadingAxes(BACKEND)),
    overrideKernel('FusedBatchNorm', BACKEND, fusedBatchNormSimd),
  ];
  unregisterGradOps = registerSimdGradOps(BACKEND);
  for (const [name, make] of WASM_GRADIENTS) {
    const stock = getGradient(name);
    if (stock == null) continue;
    stockGrads.push(stock);
    registerGradient(make(BACKEND, stock));
  }
}

/** Puts the stock wasm kernels and tfjs-core's gradients back (tests and benchmarks compare). */
export function unregisterWasmTrainingKernels(): void {
  if (overrides == null) return;
  for (const o of overrides.reverse()) o.restore();
  overrides = null;
  for (const g of stockGrads) registerGradient(g);
  stockGrads = [];
  unregisterGradOps?.();
  unregisterGradOps = null;
}

/** Whether the project's wasm training kernels are registered now. */
export function wasmTrainingKernelsRegistered(): boolean {
  return overrides != null;
}
