/**
 * Shared by the WebGPU kernel tests: whether a WebGPU adapter exists here (Dawn through the `webgpu` package;
 * SwiftShader on machines without a GPU, see swiftshaderEnv.ts), seeded inputs, and the relative error
 * max|a - b| / max|b| against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { observeMultiOutputDispatches } from '../../../../src/engine/kernels/webgpu/multiOutput';
import { initNodeBackend } from '../../../../src/platform/node/backend';

export { randoms, relErr, size, TOL } from '../../../helpers/kernelCheck';

/** Why WebGPU cannot run here, or null when an adapter was found (the webgpu backend then works). */
export async function webgpuUnavailable(): Promise<string | null> {
  try {
    await initNodeBackend('webgpu');
    await tf.setBackend('cpu');
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Runs f on `backend` inside a tidy and returns its outputs' values (read asynchronously, as WebGPU needs). */
export async function on(backend: 'webgpu' | 'cpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const vals = (await Promise.all(outs.map((o) => o.data()))) as Float32Array[];
  tf.dispose(outs);
  return vals;
}

/** How many GPU dispatches `f` makes on the active webgpu backend: tfjs programs and the project's multi-output ones. */
export async function countDispatches(f: () => unknown): Promise<number> {
  const b = tf.backend() as unknown as { runWebGPUProgram: (...a: unknown[]) => unknown };
  const orig = b.runWebGPUProgram;
  let n = 0;
  b.runWebGPUProgram = function (this: unknown, ...a: unknown[]) {
    n++;
    return orig.apply(this, a);
  };
  const stop = observeMultiOutputDispatches(() => n++);
  try {
    await f();
  } finally {
    b.runWebGPUProgram = orig;
    stop();
  }
  return n;
}
