/**
 * state_dicts written as torch.save writes them (zip format, protocol-2 pickle), loadable by torch.load.
 */
import type { StateDict } from '../model/torchWeights';
import { PickleWriter } from './pickleWriter';
import type { NamedTensor } from './safetensors';
import { writeZip } from './zipWriter';

/** Row-major (contiguous) strides of a shape. */
export const contiguousStrides = (shape: number[]): number[] => {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
};

/** torch storage class and little-endian bytes for a tensor's data. */
function encodeStorage(name: string, t: NamedTensor): { storage: string; data: Uint8Array } {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) throw new Error(`writeTorchCheckpoint: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
  const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (t.data instanceof Float32Array) return { storage: 'FloatStorage', data: bytesOf(t.data) };
  if (t.data instanceof Uint8Array) return { storage: 'ByteStorage', data: bytesOf(t.data) };
  if (t.dtype !== 'I64') return { storage: 'IntStorage', data: bytesOf(t.data) };
  const out = new Uint8Array(8 * count);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) view.setBigInt64(8 * i, BigInt(t.data[i]), true);
  return { storage: 'LongStorage', data: out };
}

function writeIntTuple(w: PickleWriter, xs: number[]): void {
  if (xs.length > 3) w.mark();
  for (const x of xs) w.int(x);
  w.tuple(xs.length > 3 ? undefined : xs.length);
}

/**
 * Serializes a state_dict as torch.save does (zip format, protocol-2 pickle, 64-byte aligned storages), loadable by
 * torch.load (weights_only=True too) as an OrderedDict. Float tensors are written as float32 whatever their dtype
 * label (their data is float32), I64 as int64, I32 as int32, U8 as uint8; each tensor gets its own storage.
 */
export function writeTorchCheckpoint(stateDict: StateDict, opts: { archiveName?: string } = {}): Uint8Array {
  const archive = opts.archiveName ?? 'archive';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(archive)) throw new Error(`writeTorchCheckpoint: archive name "${archive}" must be a plain file name`);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('writeTorchCheckpoint needs a little-endian platform');
  const w = new PickleWriter().proto(2);
  w.global('collections', 'OrderedDict').tuple(0).reduce().mark();
  const storages: Array<{ name: string; data: Uint8Array }> = [];
  for (const [name, t] of stateDict) {
    const { storage, data } = encodeStorage(name, t);
    const key = String(storages.length);
    const numel = t.data.length;
    storages.push({ name: `${archive}/data/${key}`, data });
    w.str(name);
    // _rebuild_tensor_v2(storage, offset 0, size, contiguous stride, requires_grad False, OrderedDict() of hooks)
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', storage).str(key).str('cpu').int(numel).tuple().persistentId();
    w.int(0);
    writeIntTuple(w, t.shape);
    writeIntTuple(w, contiguousStrides(t.shape));
    w.bool(false);
    w.global('collections', 'OrderedDict').tuple(0).reduce();
    w.tuple().reduce();
  }
  w.setItems();
  const enc = new TextEncoder();
  return writeZip(
    [
      { name: `${archive}/data.pkl`, data: w.finish() },
      { name: `${archive}/byteorder`, data: enc.encode('little') },
      ...storages,
      { name: `${archive}/version`, data: enc.encode('3\n') },
    ],
    { align: 64 },
  );
}
