/**
 * Shared by the WebGPU kernel tests: whether a WebGPU adapter exists here (Dawn through the `webgpu` package;
 * SwiftShader on machines without a GPU, see swiftshaderEnv.ts), seeded inputs, and the relative error
 * max|a - b| / max|b| against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
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
