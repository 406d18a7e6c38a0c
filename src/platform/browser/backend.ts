/**
 * Backend selection in the browser: WebGPU, then WebGL, then WASM (SIMD), then plain CPU. Runs once; the report says what was chosen, on which adapter, and why
 * the preferred backends were passed over.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { registerWebGPUKernels } from '../../engine/kernels/webgpu/register';
import { type BackendName, type BackendReport, selectBackend } from '../selectBackend';

interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
}

/** Describes the WebGPU adapter (vendor, architecture), or says why there is none. */
async function webgpuAdapter(): Promise<string> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: GpuAdapterInfo; requestAdapterInfo?: () => Promise<GpuAdapterInfo> } | null> } }).gpu;
  if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available');
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

/**
 * Activates the best backend the browser offers, or exactly `only` (e.g. from the URL's ?backend=).
 */
export async function initBrowserBackend(only?: BackendName): Promise<BackendReport> {
  let adapter = '';
  const report = await selectBackend(
    [
      { name: 'webgpu', prepare: async () => { adapter = await webgpuAdapter(); } },
      { name: 'webgl' },
      {
        name: 'wasm',
        prepare: () => {
          // The threaded build's pthread workers fail once bundled ("e is not defined" inside the inlined worker
          // script), and the project's own training kernels are single-threaded anyway: use the SIMD build.
          tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
          setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
        },
      },
      { name: 'cpu' },
    ],
    only,
  );
  if (report.backend === 'webgpu') {
    registerWebGPUKernels(); // the project's WGSL training kernels (src/engine/kernels/webgpu)
    report.detail = adapter;
  }
  else if (report.backend === 'webgl') report.detail = `WebGL ${tf.env().getNumber('WEBGL_VERSION')}`;
  else if (report.backend === 'wasm') report.detail = 'SIMD, one thread, with the project\'s training kernels';
  return report;
}
