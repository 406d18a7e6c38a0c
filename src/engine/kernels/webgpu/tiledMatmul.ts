/**
 * A tiled matrix product C[M, N] = sum_k A[m, k] * B[k, n] in WGSL, where A and B are not stored matrices but
 * WGSL expressions that gather their elements (an implicit im2col): the convolution gradients are products of
 * this kind.
 *
 * Each workgroup (16 x 16 threads) computes one 32 x 32 tile of C, each thread 2 x 2 of it, stepping through
 * k in slices of 32 staged in workgroup memory. The k range can be split over the dispatch's z dimension
 * (`splits` chunks of `chunk`): each split then writes its partial tile to partial[split, M, N] and a second
 * pass (program.ts, sumSplitsProgram) adds the splits. That is what lets a product with a tiny output and a long
 * reduction (the filter gradient: 3x3xCinxCout outputs, N*H*W = 65,536 summands at 32x32, batch 64) fill a GPU.
 *
 * Staging order: with `aKFast` consecutive threads load consecutive k of A (coalesced when k is the contiguous
 * axis in memory), else consecutive m; the same for B with `bKFast` (consecutive k) or consecutive n.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { gridProgram } from './program';

const TILE = 32; // tile edge in M, N and K
const THREADS = 16; // threads per tile edge; each computes (TILE / THREADS)^2 = 4 outputs

/** The product to generate. `loadA`/`loadB` are WGSL bodies of fn(m, k) / fn(k, n) -> f32, given in-range indices. */
export interface MatmulSpec {
  /** unique name of the gather code (the sizes are appended) */
  key: string;
  M: number;
  N: number;
  K: number;
  /** k-range splits (1: the result is C itself, written as `outputShape`) */
  splits: number;
  /** k per split, a multiple of 32 when splits > 1 */
  chunk: number;
  loadA: string;
  loadB: string;
  aKFast: boolean;
  bKFast: boolean;
  variableNames: string[];
  /** shape of C when splits = 1 (M * N elements, row-major [M, N] order) */
  outputShape: number[];
}

/** Staging loop for one operand: fills tile[kk * TILE + r] (r = row m or column n) for the current k slice. */
function stage(tile: string, fn: string, kFast: boolean, rows: number, rowBase: string, aOrder: boolean): string {
  const [kk, r] = kFast ? ['e % 32', 'e / 32'] : ['e / 32', 'e % 32'];
  const call = aOrder ? `${fn}(row, k)` : `${fn}(k, row)`;
  return `
      for (var i = 0; i < ${(TILE * TILE) / (THREADS * THREADS)}; i++) {
        let e = lid + i * ${THREADS * THREADS};
        let kk = ${kk};
        let r = ${r};
        let k = k0 + kk;
        let row = ${rowBase} + r;
        var v = 0.0;
        if (k < kEnd && row < ${rows}) { v = ${call}; }
        ${tile}[kk * ${TILE} + r] = v;
      }`;
}

/** The WebGPU program for `spec`: output C (splits = 1) or partial [splits, M * N]. */
export function tiledMatmulProgram(spec: MatmulSpec): WebGPUProgram {
  const { M, N, K, splits, chunk } = spec;
  const key = `mcl_mm_${spec.key}_${M}_${N}_${K}_${splits}_${chunk}_${+spec.aKFast}${+spec.bKFast}`;
  const outputShape = splits === 1 ? spec.outputShape : [splits, M * N];
  const code = `
    var<workgroup> tileA : array<f32, ${TILE * TILE}>; // [k][m]
    var<workgroup> tileB : array<f32, ${TILE * TILE}>; // [k][n]

    fn loadA(m : i32, k : i32) -> f32 { ${spec.loadA} }
    fn loadB(k : i32, n : i32) -> f32 { ${spec.loadB} }

    fn main() {
      let lid = i32(localIndex);
      let tn = i32(localId.x) * 2;
      let tm = i32(localId.y) * 2;
      let n0 = i32(workgroupId.x) * ${TILE};
      let m0 = i32(workgroupId.y) * ${TILE};
      let split = i32(workgroupId.z);
      let kBegin = split * ${chunk};
      let kEnd = min(kBegin + ${chunk}, ${K});
      var c00 = 0.0; var c01 = 0.0; var c10 = 0.0; var c11 = 0.0;
      // A constant trip count keeps the barriers in uniform control flow (tfjs copies workgroup_id into a private
      // variable, which WGSL's uniformity analysis treats as non-uniform); slices past kEnd load zeros.
      for (var t = 0; t < ${Math.ceil(chunk / TILE)}; t++) {
        let k0 = kBegin + t * ${TILE};
        ${stage('tileA', 'loadA', spec.aKFast, M, 'm0', true)}
        ${stage('tileB', 'loadB', spec.bKFast, N, 'n0', false)}
        workgroupBarrier();
        for (var kk = 0; kk < ${TILE}; kk++) {
          let a0 = tileA[kk * ${TILE} + tm];
          let a1 = tileA[kk * ${TILE} + tm + 1];
          let b0 = tileB[kk * ${TILE} + tn];
          let b1 = tileB[kk * ${TILE} + tn + 1];
          c00 = fma(a0, b0, c00); c01 = fma(a0, b1, c01);
          c10 = fma(a1, b0, c10); c11 = fma(a1, b1, c11);
        }
        workgroupBarrier();
      }
      let base = split * ${M * N};
      let m = m0 + tm;
      let n = n0 + tn;
      if (m < ${M}) {
        if (n < ${N}) { result[base + m * ${N} + n] = c00; }
        if (n + 1 < ${N}) { result[base + m * ${N} + n + 1] = c01; }
      }
      if (m + 1 < ${M}) {
        if (n < ${N}) { result[base + (m + 1) * ${N} + n] = c10; }
        if (n + 1 < ${N}) { result[base + (m + 1) * ${N} + n + 1] = c11; }
      }
    }`;
  return gridProgram(key, spec.variableNames, outputShape, [Math.ceil(N / TILE), Math.ceil(M / TILE), splits], [THREADS, THREADS, 1], code);
}

/** k per split must be a whole number of k slices. */
export const MATMUL_K_SLICE = TILE;
