/**
 * Backend selection for Node: WASM (XNNPACK, SIMD, threads where available) first, then the plain CPU backend.
 * `@tensorflow/tfjs-node` cannot install on these machines (its install downloads a native binary).
 * WebGPU (Dawn through the optional `webgpu` package, webgpu.ts) only when asked for: `MCLDEF_BACKEND=webgpu`.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { registerWasmTrainingKernels } from '../../engine/kernels/wasmTraining';
import { registerWebGPUKernels, unregisterWebGPUKernels } from '../../engine/kernels/webgpu/register';
import { type BackendCandidate, type BackendName, type BackendReport, selectBackend } from '../selectBackend';
import { prepareNodeWebGPU } from './webgpu';

const require = createRequire(import.meta.url);

/** Folder holding the tfjs-backend-wasm .wasm binaries, with a trailing slash as setWasmPaths wants. */
export function wasmDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + path.sep + 'dist' + path.sep;
}

let wasmPrepared = false;

/** Backend names initNodeBackend accepts (e.g. from MCLDEF_BACKEND). */
export const NODE_BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'webgpu'];

/**
 * Activates the best Node backend ('wasm', else 'cpu'), or exactly `only` when given.
 * @param only 'wasm', 'cpu' or 'webgpu' to force one (tests use 'cpu' for exact float32 arithmetic)
 * @param opts.webgpuKernels false keeps tfjs-backend-webgpu's stock kernels (benchmarks and tests compare)
 */
export async function initNodeBackend(only?: BackendName, opts: { webgpuKernels?: boolean } = {}): Promise<BackendReport> {
  if (only && !NODE_BACKENDS.includes(only)) {
    throw new Error(`unknown backend "${only}"; expected one of: ${NODE_BACKENDS.join(', ')}`);
  }
  let adapter = '';
  const candidates: BackendCandidate[] = [
      {
        name: 'wasm',
        prepare: () => {
          if (!wasmPrepared) {
            setWasmPaths(wasmDir());
            setThreadsCount(Math.max(1, os.cpus().length));
            wasmPrepared = true;
          }
        },
        // Training on wasm needs the project's gradient kernels (stock tfjs-backend-wasm lacks Conv2DBackpropFilter).
        afterInit: () => registerWasmTrainingKernels(),
      },
      { name: 'cpu' },
    ];
  // WebGPU only on request: it needs the optional `webgpu` package and a Vulkan device (or SwiftShader).
  if (only === 'webgpu') {
    candidates.unshift({
      name: 'webgpu',
      prepare: async () => {
        adapter = (await prepareNodeWebGPU()).adapter;
        if (opts.webgpuKernels === false) unregisterWebGPUKernels();
        else registerWebGPUKernels();
      },
    });
  }
  const report = await selectBackend(candidates, only);
  // The CPU backend's first use prints a banner recommending tfjs-node, which cannot install here.
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  if (report.backend === 'wasm') {
    const b = tf.backend() as { wasm?: { _getThreadsCount?: () => number } };
    const threads = b.wasm?._getThreadsCount?.() ?? 1;
    report.detail = `XNNPACK, ${threads} thread${threads === 1 ? '' : 's'}`;
  } else if (report.backend === 'webgpu') {
    report.detail = `${adapter}, ${opts.webgpuKernels === false ? 'stock kernels' : "with the project's WGSL kernels"}`;
  }
  return report;
}
