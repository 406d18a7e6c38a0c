/**
 * Shared by the WebGPU kernel tests: whether a WebGPU adapter exists here (Dawn through the `webgpu` package;
 * SwiftShader on machines without a GPU, see swiftshaderEnv.ts), seeded inputs, and the relative error
 * max|a - b| / max|b| against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../../../src/platform/node/backend';

/** Tolerance of every comparison with cpu. */
export const TOL = 1e-4;

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

/** max|a - b| / max|b| */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

/** Seeded uniform values in [-1, 1) (mulberry32). */
export function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs f on `backend` inside a tidy and returns its outputs' values (read asynchronously, as WebGPU needs). */
export async function on(backend: 'webgpu' | 'cpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const vals = (await Promise.all(outs.map((o) => o.data()))) as Float32Array[];
  tf.dispose(outs);
  return vals;
}
