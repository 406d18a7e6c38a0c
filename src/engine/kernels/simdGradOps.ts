/**
 * Two backward-pass kernels for the WASM backend as single SIMD passes (emitted at run time, wasmAsm.ts),
 * registered under project-specific kernel names and used by the wasm gradients in gradients.ts. Measured on
 * [64, 32, 32, 16]: 0.48 ms against 0.91 (relu) and 0.60 against 2.04 (BatchNorm reductions).
 *
 * - MclReluGrad {dy, x} -> dx = x > 0 ? dy : 0. tfjs-core computes mul(dy, step(x)): two full passes.
 *   (NaN in x gives 0 here where tfjs-core's Step would give NaN.)
 * - MclBatchNormGradStats {dy, x, mean} -> [2, C]: row 0 = sum(dy), row 1 = sum(dy * (x - mean)) over all
 *   leading axes of x [..., C]: the reductions behind BatchNorm's scale/offset/mean/variance gradients, read
 *   once, where tensor ops write (x - mean) and its product with dy first. Sums are blocked (256 rows per
 *   partial sum) to keep float32 rounding at the level of a pairwise sum.
 * Both need float32 and a channel count (or size) that is a multiple of 4; the callers check and otherwise use
 * tensor ops.
 */
import { backend as tfBackend, getBackend, registerKernel, unregisterKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelArgs } from './override';
import { instantiateOnHeap } from './wasmHeap';
import { assembleModule, FnBuilder, I32, V128 } from './wasmAsm';

export const RELU_GRAD = 'MclReluGrad';
export const BN_GRAD_STATS = 'MclBatchNormGradStats';

/** relu_grad(dy, x, out, n4): n4 = number of f32x4 vectors. */
function reluGradFn(): FnBuilder {
  const f = new FnBuilder('relu_grad', 4);
  const [dy, x, out, n] = [0, 1, 2, 3];
  f.loop(() => {
    f.get(out);
    f.get(x).v128Load().v128Zero().f32x4Gt(); // mask: x > 0
    f.get(dy).v128Load().v128And();
    f.v128Store();
    f.get(dy).i32(16).add().set(dy);
    f.get(x).i32(16).add().set(x);
    f.get(out).i32(16).add().set(out);
    f.get(n).i32(1).sub().tee(n).brIf(0);
  });
  return f;
}

/** Rows per partial sum in bn_stats. */
const BLOCK = 256;

/**
 * bn_stats_<nv>(dy, x, m, out, rows, C): for one column block of nv f32x4 vectors starting at the given
 * pointers (dy, x at column c0 of row 0; m, out at c0), out[c] += sum(dy), out[C + c] += sum(dy * (x - m)).
 */
function bnStatsFn(nv: number): FnBuilder {
  const f = new FnBuilder(`bn_stats_${nv}`, 6, false);
  const [dy, x, m, out, rows, C] = [0, 1, 2, 3, 4, 5];
  const s1 = Array.from({ length: nv }, () => f.local(V128)); // running totals
  const s2 = Array.from({ length: nv }, () => f.local(V128));
  const b1 = Array.from({ length: nv }, () => f.local(V128)); // block partial sums
  const b2 = Array.from({ length: nv }, () => f.local(V128));
  const mv = Array.from({ length: nv }, () => f.local(V128));
  const [d, left, inBlock, rowBytes] = [f.local(V128), f.local(I32), f.local(I32), f.local(I32)];
  f.get(C).i32(4).mul().set(rowBytes);
  for (let v = 0; v < nv; v++) f.get(m).v128Load(16 * v).set(mv[v]);
  f.get(rows).set(left);
  f.loop(() => {
    // one block of up to BLOCK rows into b1/b2 (zeroed), then added to the totals
    for (let v = 0; v < nv; v++) f.v128Zero().set(b1[v]).v128Zero().set(b2[v]);
    f.get(left).i32(BLOCK).get(left).i32(BLOCK).ltS().select().set(inBlock); // min(left, BLOCK)
    f.get(left).get(inBlock).sub().set(left);
    f.loop(() => {
      for (let v = 0; v < nv; v++) {
        f.get(dy).v128Load(16 * v).set(d);
        f.get(b1[v]).get(d).f32x4Add().set(b1[v]);
        f.get(b2[v]).get(x).v128Load(16 * v).get(mv[v]).f32x4Sub().get(d).f32x4Mul().f32x4Add().set(b2[v]);
      }
      f.get(dy).get(rowBytes).add().set(dy);
      f.get(x).get(rowBytes).add().set(x);
      f.get(inBlock).i32(1).sub().tee(inBlock).brIf(0);
    });
    for (let v = 0; v < nv; v++) f.get(s1[v]).get(b1[v]).f32x4Add().set(s1[v]).get(s2[v]).get(b2[v]).f32x4Add().set(s2[v]);
    f.get(left).i32(0).gtS().brIf(0);
  });
  for (let v = 0; v < nv; v++) {
    f.get(out).get(s1[v]).v128Store(16 * v);
    f.get(out).get(rowBytes).add().get(s2[v]).v128Store(16 * v);
  }
  return f;
}

/** bn_stats(dy, x, m, out, rows, C): column blocks of 2 vectors (8 channels), then one of 1 if C % 8 == 4. */
function bnStatsMain(two: number, one: number): FnBuilder {
  const f = new FnBuilder('bn_stats', 6);
  const [dy, x, m, out, rows, C] = [0, 1, 2, 3, 4, 5];
  const c = f.local(I32); // byte offset of the column block
  const end = f.local(I32);
  f.get(C).i32(4).mul().set(end);
  f.forRange(c, () => f.i32(0), end, 32, () => {
    f.get(end).get(c).sub().i32(32).geS();
    const call = (fn: number) => {
      f.get(dy).get(c).add().get(x).get(c).add().get(m).get(c).add().get(out).get(c).add().get(rows).get(C).call(fn);
    };
    f.if(
      () => call(two),
      () => call(one),
    );
  });
  return f;
}

function buildModule(shared: boolean): Uint8Array {
  // Function indices: 0 relu_grad, 1 bn_stats, 2 bn_stats_2, 3 bn_stats_1.
  return assembleModule([reluGradFn(), bnStatsMain(2, 3), bnStatsFn(2), bnStatsFn(1)], shared);
}

const ptr = (b: BackendWasm, t: TensorInfo) => b.dataIdMap.get(t.dataId)!.memoryOffset;

function reluGradKernel({ inputs, backend }: KernelArgs): TensorInfo {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs;
  const n = dy.shape.reduce((p, d) => p * d, 1);
  const fn = instantiateOnHeap(wasm, 'relu_grad', buildModule);
  if (fn == null || n % 4 !== 0) throw new Error(`${RELU_GRAD}: needs WASM SIMD and a size that is a multiple of 4`);
  const out = wasm.makeOutput(dy.shape, 'float32');
  if (n > 0) fn(ptr(wasm, dy), ptr(wasm, x), ptr(wasm, out), n / 4);
  return out;
}

function bnStatsKernel({ inputs, backend }: KernelArgs): TensorInfo {
  const wasm = backend as BackendWasm;
  const { dy, x, mean } = inputs;
  const C = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((p, d) => p * d, 1) / C;
  const fn = instantiateOnHeap(wasm, 'bn_stats', buildModule);
  if (fn == null || C % 4 !== 0) throw new Error(`${BN_GRAD_STATS}: needs WASM SIMD and channels that are a multiple of 4`);
  const out = wasm.makeOutput([2, C], 'float32');
  wasm.typedArrayFromHeap(out).fill(0);
  if (rows > 0) fn(ptr(wasm, dy), ptr(wasm, x), ptr(wasm, mean), ptr(wasm, out), rows, C);
  return out;
}

/**
 * Whether the kernels above can run now: `backendName` (wasm) is active, its heap takes a SIMD module, and
 * `count` (elements for MclReluGrad, channels for MclBatchNormGradStats) is a multiple of 4.
 */
export function simdGradOpsUsable(backendName: string, count: number): boolean {
  if (getBackend() !== backendName || count % 4 !== 0) return false;
  return instantiateOnHeap(tfBackend() as BackendWasm, 'relu_grad', buildModule) != null;
}

/** Registers MclReluGrad and MclBatchNormGradStats for `backendName`; returns the undo. */
export function registerSimdGradOps(backendName: string): () => void {
  registerKernel({ kernelName: RELU_GRAD, backendName, kernelFunc: reluGradKernel as KernelFunc });
  registerKernel({ kernelName: BN_GRAD_STATS, backendName, kernelFunc: bnStatsKernel as KernelFunc });
  return () => {
    unregisterKernel(RELU_GRAD, backendName);
    unregisterKernel(BN_GRAD_STATS, backendName);
  };
}
