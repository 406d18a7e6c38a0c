/**
 * Node reader for NumPy .npy / .npz files (the shared Trojan trigger ships as an .npz).
 *
 * An .npz is a zip archive of .npy files (read with src/engine/io/zipReader.ts). The .npy parser supports format
 * versions 1-3, C order, little-endian or byte-order-free numeric dtypes.
 */
import { readZip } from '../../engine/io/zipReader';
import { READ_LIMITS, readRegularFile } from './safeFs';

/** The typed arrays an .npy can decode to. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** One decoded array: `data` holds the values in C (row-major) order for `shape` ([] for a scalar). */
export interface NpyArray {
  /** NumPy descr, e.g. "<f4". */
  dtype: string;
  shape: number[];
  data: NpyData;
}

type Ctor = { new (buffer: ArrayBuffer): NpyData; BYTES_PER_ELEMENT: number };
const DTYPES: Record<string, Ctor> = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  u1: Uint8Array,
  b1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  i8: BigInt64Array,
  u8: BigUint64Array,
};

/** Parses one .npy file. `name` only labels error messages. */
export function parseNpy(bytes: Uint8Array, name = '.npy'): NpyArray {
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail('not an .npy file (bad magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    return fail(`unsupported .npy format version ${major}`);
  }
  if (start + headerLen > bytes.length) fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) return fail(`cannot parse header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported (save with np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const order = descr[0];
  const ctor = DTYPES[descr.slice(1)];
  if (!ctor || !'<|='.includes(order)) fail(`unsupported dtype ${descr} (little-endian numeric dtypes only)`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const byteLen = count * ctor.BYTES_PER_ELEMENT;
  if (dataStart + byteLen > bytes.length) fail(`truncated data: ${bytes.length - dataStart} bytes for ${count} x ${descr}`);
  // Copy into a fresh, aligned buffer: the data offset inside the zip is rarely a multiple of the element size.
  const buffer = new Uint8Array(bytes.subarray(dataStart, dataStart + byteLen)).buffer; // never Buffer#slice (a view)
  return { dtype: descr, shape, data: new ctor(buffer) };
}

/** Parses an .npz archive (a zip of .npy files, read by the engine's zip reader): array name -> array. */
export async function parseNpz(bytes: Uint8Array, name = '.npz'): Promise<Map<string, NpyArray>> {
  const arrays = new Map<string, NpyArray>();
  try {
    for (const entry of readZip(bytes)) {
      if (entry.isDirectory || !entry.name.endsWith('.npy')) continue;
      arrays.set(entry.name.slice(0, -4), parseNpy(await entry.read(), `${name}:${entry.name}`));
    }
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(name) ? msg : `${name}: ${msg}`);
  }
  return arrays;
}

/** Reads and parses an .npz file from disk. */
export async function readNpz(path: string): Promise<Map<string, NpyArray>> {
  return parseNpz(readRegularFile(path, READ_LIMITS.data), path);
}

/**
 * Loads the Trojan trigger patch: key `x`, float32 [3, 32, 32] (CHW, 0-255), ready for `getAttack('trojan', {patch})`.
 * Throws if the key, dtype or shape differ.
 */
export async function loadTrojanPatch(path: string, key = 'x'): Promise<Float32Array> {
  const arrays = await readNpz(path);
  const arr = arrays.get(key);
  if (!arr) throw new Error(`${path}: no array "${key}" (has ${[...arrays.keys()].join(', ') || 'none'})`);
  if (!(arr.data instanceof Float32Array)) throw new Error(`${path}: "${key}" is ${arr.dtype}, expected float32 (<f4)`);
  if (arr.shape.join(',') !== '3,32,32') throw new Error(`${path}: "${key}" has shape [${arr.shape.join(', ')}], expected [3, 32, 32]`);
  return arr.data;
}
