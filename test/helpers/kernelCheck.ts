/**
 * Shared by the kernel tests (WASM and WebGPU) that compare a backend with cpu: the tolerance, the relative error
 * max|a - b| / max|b|, and seeded inputs (mulberry32, so each case is reproducible on its own).
 */

/** Tolerance of every comparison with cpu. */
export const TOL = 1e-4;

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

/** Elements of a shape. */
export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
