/** Test helpers: loading the committed PyTorch fixtures and comparing tensors with a printed max difference. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type NamedTensor } from '../../src/engine/io/safetensors';
import type { StateDict } from '../../src/engine/model/torchWeights';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Loads test/golden/fixtures/<name> and splits "model.*" entries into a state_dict. */
export function loadFixture(name: string): { sd: StateDict; t: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const bytes = fs.readFileSync(path.join(repoRoot, 'test', 'golden', 'fixtures', name));
  const { tensors, metadata } = readSafetensors(bytes);
  const sd: StateDict = new Map();
  const t = new Map<string, NamedTensor>();
  for (const [k, v] of tensors) {
    if (k.startsWith('model.')) sd.set(k.slice(6), v);
    else t.set(k, v);
  }
  return { sd, t, metadata };
}

/** Largest |a - b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** NCHW float data -> NHWC float data. */
export function nchwToNhwc(data: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x];
  return out;
}
