/**
 * Backend selection for Node: WASM (XNNPACK, SIMD, threads where available) first, then the plain CPU backend.
 * `@tensorflow/tfjs-node` cannot install on these machines (its install downloads a native binary).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { registerWasmTrainingKernels } from '../../engine/kernels/wasmTraining';
import { type BackendName, type BackendReport, selectBackend } from '../selectBackend';

const require = createRequire(import.meta.url);

/** Folder holding the tfjs-backend-wasm .wasm binaries, with a trailing slash as setWasmPaths wants. */
export function wasmDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + path.sep + 'dist' + path.sep;
}

let wasmPrepared = false;

/**
 * Activates the best Node backend ('wasm', else 'cpu'), or exactly `only` when given.
 * @param only 'wasm' or 'cpu' to force one (tests use 'cpu' for exact float32 arithmetic)
 */
export async function initNodeBackend(only?: BackendName): Promise<BackendReport> {
  const report = await selectBackend(
    [
      {
        name: 'wasm',
        prepare: () => {
          if (!wasmPrepared) {
            setWasmPaths(wasmDir());
            setThreadsCount(Math.max(1, os.cpus().length));
            wasmPrepared = true;
          }
        },
      },
      { name: 'cpu' },
    ],
    only,
  );
  // The CPU backend's first use prints a banner recommending tfjs-node, which cannot install here.
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
  if (report.backend === 'wasm') {
    // Training on wasm needs the project's gradient kernels (stock tfjs-backend-wasm lacks Conv2DBackpropFilter).
    registerWasmTrainingKernels();
    const b = tf.backend() as unknown as { wasm?: { _getThreadsCount?: () => number } };
    const threads = b.wasm?._getThreadsCount?.() ?? 1;
    report.detail = `XNNPACK, ${threads} thread${threads === 1 ? '' : 's'}`;
  }
  return report;
}
