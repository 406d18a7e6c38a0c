/**
 * Backend selection in the browser: WebGPU, WebGL and WASM (SIMD) are each started and timed on a few WRN-16-1
 * training steps, and the fastest trains (plain CPU is the last resort). A software GPU (SwiftShader, a fallback
 * adapter, llvmpipe) is not timed and does not win while WASM works. `?backend=` forces one. Runs once; the
 * report says what was chosen, on which adapter, with the measured rates, and why the others were passed over.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { measureRates } from '../../engine/defense/calibrate';
import { registerWasmTrainingKernels } from '../../engine/kernels/wasmTraining';
import { registerWebGPUKernels } from '../../engine/kernels/webgpu/register';
import { buildWrn, WRN_16_1 } from '../../engine/model/wrn';
import { type BackendName, type BackendReport, selectFastestBackend } from '../selectBackend';

interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** Software renderers, by the names their adapters and WebGL renderers report. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|software|microsoft basic render/i;

/** Time budget for timing one backend (ms): a slow GPU path is cut short and reported as "at most". */
const CALIBRATION_BUDGET_MS = 8000;

/** The WebGPU adapter: its description, and why it is software (or null). */
async function webgpuAdapter(): Promise<{ text: string; software: string | null }> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<{ info?: GpuAdapterInfo; isFallbackAdapter?: boolean; requestAdapterInfo?: () => Promise<GpuAdapterInfo> } | null> } }).gpu;
  if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available');
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const text = [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
  const fallback = adapter.isFallbackAdapter ?? info.isFallbackAdapter ?? false;
  const software = fallback || SOFTWARE.test(text) ? `WebGPU here is a software adapter (${text}), far slower than WASM` : null;
  return { text, software };
}

/** The WebGL renderer's name (unmasked where the browser allows), or ''. */
function webglRenderer(): string {
  const gl = (tf.backend() as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
  if (!gl) return '';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
}

/** Times WRN-16-1 (the default model's architecture, fresh weights) on the active backend. */
async function timeWrn() {
  const model = buildWrn(WRN_16_1);
  try {
    return await measureRates(model, { batch: 16, steps: 2, budgetMs: CALIBRATION_BUDGET_MS });
  } finally {
    model.dispose();
  }
}

/**
 * Activates the best backend the browser offers, or exactly `only` (e.g. from the URL's ?backend=).
 */
export async function initBrowserBackend(only?: BackendName): Promise<BackendReport> {
  let adapter = { text: '', software: null as string | null };
  return selectFastestBackend(
    [
      {
        name: 'webgpu',
        prepare: async () => {
          adapter = await webgpuAdapter();
        },
        // The project's WGSL training kernels (src/engine/kernels/webgpu), before the backend is timed.
        afterInit: () => registerWebGPUKernels(),
        software: () => adapter.software,
        detail: () => adapter.text,
      },
      {
        name: 'webgl',
        software: () => {
          const r = webglRenderer();
          return SOFTWARE.test(r) ? `WebGL here renders in software (${r}), far slower than WASM` : null;
        },
        detail: () => `WebGL ${tf.env().getNumber('WEBGL_VERSION')}${webglRenderer() ? `, ${webglRenderer()}` : ''}`,
      },
      {
        name: 'wasm',
        prepare: () => {
          // The threaded build's pthread workers fail once bundled ("e is not defined" inside the inlined worker
          // script), and the project's own training kernels are single-threaded anyway: use the SIMD build.
          tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
          setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
        },
        // Stock tfjs-backend-wasm cannot train (no Conv2DBackpropFilter): the project's kernels first.
        afterInit: () => registerWasmTrainingKernels(),
        detail: () => "SIMD, one thread, with the project's training kernels",
      },
      { name: 'cpu' },
    ],
    timeWrn,
    only,
  );
}
