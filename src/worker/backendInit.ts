/**
 * Starts the page's TF.js backend (webgpu -> webgl -> wasm -> cpu, or the one asked for) and gives the WASM backend
 * the project's training kernels. The worker shim and the main-thread fallback hand this to {@link EngineHost}.
 */
import { registerWasmTrainingKernels } from '../engine/kernels/wasmTraining';
import { initBrowserBackend } from '../platform/browser/backend';
import type { BackendName, BackendReport } from '../platform/selectBackend';

/** Initializes the backend; resolves once tf.ready() has. */
export async function initEngineBackend(backend?: BackendName): Promise<BackendReport> {
  const r = await initBrowserBackend(backend);
  if (r.backend === 'wasm') registerWasmTrainingKernels();
  return r;
}
