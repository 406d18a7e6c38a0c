/**
 * Copy-shaped kernels that the WASM backend runs far slower than it must during training:
 *
 * - Identity and same-dtype Cast copy the whole buffer on wasm. The engine clones every tensor it saves for the
 *   backward pass (`saveTensorsForBackwardMode` -> Identity), ~400 full copies per WRN-16-1 step. Tensors are
 *   immutable and wasm's own Reshape already shares buffers by reference count, so sharing is safe: this is
 *   what the CPU backend's Identity does.
 * - Tile is a scalar per-element loop (~100 ns/element: 0.1 s to tile a [16] vector to [64, 32, 32, 16]);
 *   tfjs-core's FusedBatchNorm gradient tiles a [C] vector to the activation's shape, and the project's Mean/Sum
 *   gradients (gradients.ts) broadcast with Tile. Here each input row is copied once and every repetition is a
 *   doubling `copyWithin` (memmove speed).
 */
import { slice_util, type TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelArgs } from './override';

/** Identity sharing the input's buffer: x -> x (reference count + 1). */
export function shareIdentity({ inputs, backend }: KernelArgs): TensorInfo | null {
  const { x } = inputs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return null;
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/** Cast to the dtype x already has: share like Identity; real conversions go to the stock kernel. */
export function shareSameDtypeCast(args: KernelArgs): TensorInfo | null {
  const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype;
  return dtype === args.inputs.x.dtype ? shareIdentity(args) : null;
}

/**
 * Tile x [s0, ..., s_{r-1}] by reps -> [s0*r0, ..., s_{r-1}*r_{r-1}] with block copies: leaf rows (the last axis)
 * are copied from x, then each axis' filled block is repeated by doubling copyWithin.
 */
export function fastTile({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x } = inputs;
  const reps = (attrs as { reps: number[] }).reps;
  const r = x.shape.length;
  if (x.dtype === 'string' || x.dtype === 'complex64' || r === 0 || reps.length !== r) return null;
  const wasm = backend as BackendWasm;
  const s = x.shape;
  const outShape = s.map((d, i) => d * reps[i]);
  const out = wasm.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  // Views after makeOutput: allocating may grow (and so detach) the wasm heap.
  const src = wasm.typedArrayFromHeap(x);
  const dst = wasm.typedArrayFromHeap(out);
  const outStride = new Array<number>(r);
  const xStride = new Array<number>(r);
  outStride[r - 1] = 1;
  xStride[r - 1] = 1;
  for (let d = r - 2; d >= 0; d--) {
    outStride[d] = outStride[d + 1] * outShape[d + 1];
    xStride[d] = xStride[d + 1] * s[d + 1];
  }
  const fill = (d: number, xOff: number, oOff: number): void => {
    if (d === r - 1) dst.set(src.subarray(xOff, xOff + s[d]), oOff);
    else for (let i = 0; i < s[d]; i++) fill(d + 1, xOff + i * xStride[d], oOff + i * outStride[d]);
    const block = s[d] * outStride[d]; // this axis' block, filled once
    const total = block * reps[d];
    for (let filled = block; filled < total; ) {
      const n = Math.min(filled, total - filled);
      dst.copyWithin(oOff + filled, oOff, oOff + n);
      filled += n;
    }
  };
  fill(0, 0, 0);
  return out;
}

/**
 * Slice x by begin/size with block copies on heap views. The stock wasm Slice first copies the whole input out
 * of the heap (readSync) and then loops per element in JS for non-contiguous slices; here trailing axes taken
 * whole are merged so each copy is one contiguous run.
 */
export function fastSlice({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x } = inputs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return null;
  const wasm = backend as BackendWasm;
  const [begin, size] = slice_util.parseSliceParams(x, (attrs as { begin: number | number[] }).begin, (attrs as { size?: number | number[] }).size);
  const out = wasm.makeOutput(size, x.dtype);
  if (size.some((d) => d === 0)) return out;
  const src = wasm.typedArrayFromHeap(x);
  const dst = wasm.typedArrayFromHeap(out);
  const r = x.shape.length;
  if (r === 0) {
    dst.set(src);
    return out;
  }
  // Merge trailing axes that are taken whole into one contiguous run.
  let last = r - 1; // the axis whose partial range starts each run
  let run = size[r - 1];
  while (last > 0 && size[last] === x.shape[last]) {
    last--;
    run *= size[last];
  }
  const strides = new Array<number>(r);
  strides[r - 1] = 1;
  for (let d = r - 2; d >= 0; d--) strides[d] = strides[d + 1] * x.shape[d + 1];
  let o = 0;
  const walk = (d: number, off: number): void => {
    if (d === last) {
      const s0 = off + begin[d] * strides[d];
      dst.set(src.subarray(s0, s0 + run), o);
      o += run;
      return;
    }
    for (let i = 0; i < size[d]; i++) walk(d + 1, off + (begin[d] + i) * strides[d]);
  };
  walk(0, 0);
  return out;
}
