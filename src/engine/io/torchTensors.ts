/**
 * The tensors of a torch.save checkpoint as its pickle describes them (storages and strided views), and how they
 * are copied out into contiguous arrays: storage element kinds, and the size caps checked before anything is
 * allocated (a 627-byte file may declare a 500,000,000-element view over a 1-element storage).
 */
import type { NamedTensor } from './safetensors';
import { contiguousStrides } from './torchCheckpointWriter';

export interface StorageKind {
  dtype: NamedTensor['dtype'];
  bytes: number;
  /** Element i of a little-endian storage; integer kinds return NaN for values outside the int32 range. */
  read: (d: DataView, i: number) => number;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16ToFloat(h: number): number {
  bf16Scratch.setUint32(0, h << 16);
  return bf16Scratch.getFloat32(0);
}

/** torch.<Name>Storage -> how its elements are stored (torch keeps these class names in files for compatibility). */
export const STORAGES: Record<string, StorageKind> = {
  FloatStorage: { dtype: 'F32', bytes: 4, read: (d, i) => d.getFloat32(4 * i, true) },
  DoubleStorage: { dtype: 'F64', bytes: 8, read: (d, i) => d.getFloat64(8 * i, true) },
  HalfStorage: { dtype: 'F16', bytes: 2, read: (d, i) => halfToFloat(d.getUint16(2 * i, true)) },
  BFloat16Storage: { dtype: 'BF16', bytes: 2, read: (d, i) => bf16ToFloat(d.getUint16(2 * i, true)) },
  LongStorage: {
    dtype: 'I64',
    bytes: 8,
    read: (d, i) => {
      const lo = d.getUint32(8 * i, true);
      return d.getInt32(8 * i + 4, true) === (lo >= 0x80000000 ? -1 : 0) ? lo | 0 : NaN;
    },
  },
  IntStorage: { dtype: 'I32', bytes: 4, read: (d, i) => d.getInt32(4 * i, true) },
  ShortStorage: { dtype: 'I32', bytes: 2, read: (d, i) => d.getInt16(2 * i, true) },
  CharStorage: { dtype: 'I32', bytes: 1, read: (d, i) => d.getInt8(i) },
  ByteStorage: { dtype: 'U8', bytes: 1, read: (d, i) => d.getUint8(i) },
  BoolStorage: { dtype: 'U8', bytes: 1, read: (d, i) => (d.getUint8(i) ? 1 : 0) },
};

/** A storage a tensor points into; legacy files may make one a view (offset, length) of another. */
export class StorageRef {
  constructor(
    readonly kind: StorageKind,
    readonly key: string,
    readonly declaredNumel: number | undefined,
    readonly view?: { root: StorageRef; offset: number; numel: number },
  ) {}
}

/** A tensor as the pickle describes it; its data is read only if it ends up in the state_dict. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** Most elements one tensor may have (512 MiB as float32; the largest tensor of a WRN-28-10 has 3.7 M). */
export const MAX_TENSOR_ELEMENTS = 2 ** 27;
/** Most elements all tensors together may have (1 GiB as float32). */
export const MAX_TOTAL_ELEMENTS = 2 ** 28;
/**
 * Most elements a tensor may have beyond what its storage holds (a broadcast view with stride 0, which a
 * state_dict has no reason to carry: a tiny file could otherwise ask for gigabytes).
 */
export const MAX_BROADCAST_ELEMENTS = 2 ** 20;

const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Checks the element counts of the tensors to read, before any is allocated. */
export function checkSizes(dict: Map<string, TensorRef>): void {
  let total = 0;
  for (const [name, t] of dict) {
    const numel = numelOf(t.shape);
    if (numel > MAX_TENSOR_ELEMENTS) throw new Error(`tensor "${name}" declares shape [${t.shape.join(', ')}] (${numel.toExponential(2)} elements); at most ${MAX_TENSOR_ELEMENTS.toLocaleString('en')} per tensor are read`);
    total += numel;
    if (total > MAX_TOTAL_ELEMENTS) throw new Error(`the checkpoint's tensors declare more than ${MAX_TOTAL_ELEMENTS.toLocaleString('en')} elements in all (${MAX_TOTAL_ELEMENTS / 2 ** 28} GiB as float32); this reader refuses it`);
  }
}

/** Copies a tensor out of its (root) storage's bytes into a contiguous row-major typed array. */
export function gather(name: string, t: TensorRef, rootBytes: Uint8Array): NamedTensor {
  const s = t.storage;
  const root = s.view?.root ?? s;
  const kind = s.kind;
  if (rootBytes.length % kind.bytes) throw new Error(`damaged checkpoint: storage ${root.key} has ${rootBytes.length} bytes, not a whole number of ${kind.dtype} elements`);
  const rootNumel = rootBytes.length / kind.bytes;
  if (root.declaredNumel !== undefined && rootNumel < root.declaredNumel) {
    throw new Error(`the checkpoint is truncated or damaged: storage ${root.key} holds ${rootNumel} elements, the file declares ${root.declaredNumel}`);
  }
  // The window of the root storage this tensor may read: all of it, or a legacy storage view's slice.
  const begin = s.view?.offset ?? 0;
  const available = Math.max(0, Math.min(s.view?.numel ?? Infinity, rootNumel - begin));
  const { shape, stride } = t;
  const numel = numelOf(shape);
  if (numel > available && numel > MAX_BROADCAST_ELEMENTS) {
    throw new Error(`tensor "${name}" ([${shape.join(', ')}], strides [${stride.join(', ')}]) has ${numel.toLocaleString('en')} elements over a storage of ${available.toLocaleString('en')}: a broadcast view larger than a state_dict carries (limit ${MAX_BROADCAST_ELEMENTS.toLocaleString('en')}); the file is damaged or hostile`);
  }
  const last = numel === 0 ? -1 : t.offset + shape.reduce((a, n, d) => a + (n - 1) * stride[d], 0);
  if (last >= available) {
    throw new Error(`tensor "${name}" ([${shape}], storage offset ${t.offset}, strides [${stride}]) needs ${last + 1} elements of storage ${s.key}, which holds only ${available}: the file is truncated or damaged`);
  }
  const Out = kind.dtype === 'U8' ? Uint8Array : kind.dtype === 'I64' || kind.dtype === 'I32' ? Int32Array : Float32Array;
  const out = new Out(numel);
  const offset = begin + t.offset;
  const dense = contiguousStrides(shape);
  if (kind.dtype === 'F32' && shape.every((n, d) => n === 1 || stride[d] === dense[d])) {
    // Contiguous float32, the common case: one copy (slice() also realigns the bytes for Float32Array).
    out.set(new Float32Array(rootBytes.slice(4 * offset, 4 * (offset + numel)).buffer));
    return { dtype: kind.dtype, shape: [...shape], data: out };
  }
  // Walk the index space in row-major order, moving the storage position by the strides (an odometer).
  const view = new DataView(rootBytes.buffer, rootBytes.byteOffset, rootBytes.byteLength);
  const checkRange = kind.dtype === 'I64';
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let src = offset;
  for (let i = 0; i < numel; i++) {
    const v = kind.read(view, src);
    if (checkRange && Number.isNaN(v)) throw new Error(`tensor "${name}" holds an int64 outside the int32 range this reader keeps`);
    out[i] = v;
    for (let d = nd - 1; d >= 0; d--) {
      src += stride[d];
      if (++idx[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype: kind.dtype, shape: [...shape], data: out };
}
