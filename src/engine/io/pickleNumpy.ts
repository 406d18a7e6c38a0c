/**
 * numpy values as data, for the unpickler (pickle.ts). Training checkpoints keep numpy scalars and small arrays
 * beside the weights (best accuracy, histories); pickle writes them through numpy.core.multiarray.scalar /
 * _reconstruct, numpy.dtype, numpy.ndarray and _codecs.encode (bytes, protocols < 3). NUMPY_GLOBALS stands in for
 * exactly those with data-only JS values: nothing of numpy runs, and anything they are handed is data the
 * unpickler already built under the same allow-list.
 */
import { type AllowList, type AllowedGlobal, describe, narrow, PyGlobal, SET_STATE } from './pickle';

/** A numpy element type this reader decodes: bytes per element and a little/big-endian reader. */
interface NumpyKind {
  name: string;
  size: number;
  read: (d: DataView, at: number, littleEndian: boolean) => number | bigint | boolean;
}

/** numpy type strings (dtype.__reduce__'s first argument) of the decoded kinds; others stay opaque. */
const NUMPY_KINDS: Readonly<Record<string, NumpyKind>> = {
  f8: { name: 'float64', size: 8, read: (d, i, le) => d.getFloat64(i, le) },
  f4: { name: 'float32', size: 4, read: (d, i, le) => d.getFloat32(i, le) },
  i8: { name: 'int64', size: 8, read: (d, i, le) => narrow(d.getBigInt64(i, le)) },
  i4: { name: 'int32', size: 4, read: (d, i, le) => d.getInt32(i, le) },
  i2: { name: 'int16', size: 2, read: (d, i, le) => d.getInt16(i, le) },
  i1: { name: 'int8', size: 1, read: (d, i) => d.getInt8(i) },
  u8: { name: 'uint64', size: 8, read: (d, i, le) => narrow(d.getBigUint64(i, le)) },
  u4: { name: 'uint32', size: 4, read: (d, i, le) => d.getUint32(i, le) },
  u2: { name: 'uint16', size: 2, read: (d, i, le) => d.getUint16(i, le) },
  u1: { name: 'uint8', size: 1, read: (d, i) => d.getUint8(i) },
  b1: { name: 'bool', size: 1, read: (d, i) => d.getUint8(i) !== 0 },
};

/** Arrays up to this many elements get their values decoded (NumpyArray.values); larger ones keep raw bytes only. */
export const NUMPY_DECODE_LIMIT = 4096;

/**
 * numpy.dtype(str, align, copy) as data. `str` is numpy's type string ('f8', 'i4', 'b1', 'U8', 'V6', 'O8', ...);
 * BUILD's state tuple (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]) sets the
 * byte order and marks structured or sub-array dtypes, which are never decoded.
 */
export class NumpyDtype {
  /** '<', '>', '|' (not applicable) or '=' (native, taken as little-endian); '=' until BUILD says otherwise. */
  byteorder = '=';
  /** Item size from BUILD for flexible types (strings, voids); undefined when numpy derives it from `str`. */
  itemsize: number | undefined;
  /** BUILD gave names, fields or a sub-array: a record type, never decoded. */
  structured = false;

  constructor(readonly str: string) {}

  [SET_STATE](state: unknown): void {
    if (!Array.isArray(state) || state.length < 2) throw new Error(`pickle: numpy.dtype state is a ${describe(state)}, not a tuple`);
    if (typeof state[1] === 'string' && /^[<>|=]$/.test(state[1])) this.byteorder = state[1];
    if (state[0] === 3 || state[0] === 4) {
      this.structured = state[2] != null || state[3] != null || state[4] != null;
      if (typeof state[5] === 'number' && state[5] > 0) this.itemsize = state[5];
    }
  }

  /** How elements are decoded; undefined for kinds shown only as placeholders (strings, records, complex, dates...). */
  get kind(): NumpyKind | undefined {
    return this.structured || !Object.prototype.hasOwnProperty.call(NUMPY_KINDS, this.str) ? undefined : NUMPY_KINDS[this.str];
  }

  get littleEndian(): boolean {
    return this.byteorder !== '>';
  }

  /** 'float64', 'int32', 'bool', ...; numpy's type string with its byte order otherwise ('<U2', '|V6'). */
  get name(): string {
    return this.kind?.name ?? `${this.byteorder === '=' ? '' : this.byteorder}${this.str}`;
  }
}

/** A numpy scalar of a kind this reader does not decode (a string, a record, a complex number...): kept opaque. */
export class NumpyScalar {
  constructor(
    readonly dtype: NumpyDtype,
    /** Its pickled payload: raw bytes for the usual kinds. */
    readonly data: unknown,
  ) {}
}

/**
 * A numpy.ndarray as data, from numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') and BUILD's state
 * (version, shape, dtype, is_fortran, rawdata).
 */
export class NumpyArray {
  shape: number[] = [0];
  dtype: NumpyDtype | undefined;
  fortran = false;
  /** The element bytes as pickled (in Fortran order when `fortran`); undefined for object arrays. */
  data: Uint8Array | undefined;
  /**
   * The elements in row-major order: numbers (bigint beyond 2^53) or booleans for decoded kinds up to
   * NUMPY_DECODE_LIMIT elements, the unpickled items for object arrays; undefined otherwise.
   */
  values: unknown[] | undefined;

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  [SET_STATE](state: unknown): void {
    if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) throw new Error(`pickle: numpy array state is a ${describe(state)}, not (version, shape, dtype, is_fortran, data)`);
    const [shape, dtype, fortran, raw] = state.length === 5 ? state.slice(1) : state;
    if (!Array.isArray(shape) || !shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) throw new Error(`pickle: numpy array shape is a ${describe(shape)}, not a tuple of non-negative ints`);
    if (!(dtype instanceof NumpyDtype)) throw new Error(`pickle: numpy array dtype is a ${describe(dtype)}, not a numpy.dtype`);
    this.shape = [...(shape as number[])];
    this.dtype = dtype;
    this.fortran = fortran === true || fortran === 1;
    const numel = this.size;
    if (!Number.isSafeInteger(numel)) throw new Error(`pickle: numpy array of shape [${this.shape}] is too large`);
    if (Array.isArray(raw)) {
      // An object array: its items were unpickled like any other value (under the same allow-list).
      if (raw.length !== numel) throw new Error(`pickle: numpy object array of shape [${this.shape}] holds ${raw.length} items`);
      this.values = this.fortran ? fortranToRowMajor(raw, this.shape) : [...raw];
      return;
    }
    const bytes = typeof raw === 'string' ? latin1Bytes(raw) : raw;
    if (!(bytes instanceof Uint8Array)) throw new Error(`pickle: numpy array data is a ${describe(raw)}, not bytes`);
    this.data = bytes;
    const kind = dtype.kind;
    if (!kind) return;
    if (bytes.length !== numel * kind.size) throw new Error(`pickle: numpy ${kind.name} array of shape [${this.shape}] has ${bytes.length} bytes of data, not ${numel * kind.size}`);
    if (numel > NUMPY_DECODE_LIMIT) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const flat = Array.from({ length: numel }, (_, i) => kind.read(view, i * kind.size, dtype.littleEndian));
    this.values = this.fortran ? fortranToRowMajor(flat, this.shape) : flat;
  }
}

/** Reorders column-major (Fortran) elements into row-major order. */
function fortranToRowMajor<T>(items: readonly T[], shape: readonly number[]): T[] {
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  for (let d = 0, acc = 1; d < nd; d++) {
    fStride[d] = acc;
    acc *= shape[d];
  }
  const idx = new Array<number>(nd).fill(0);
  const out: T[] = [];
  for (let i = 0; i < items.length; i++) {
    out.push(items[idx.reduce((a, x, d) => a + x * fStride[d], 0)]);
    for (let d = nd - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return out;
}

/** The bytes of a str whose code points are all below 256 (Python's str.encode('latin1')). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`pickle: a latin1-encoded bytes value holds the character U+${c.toString(16).padStart(4, '0')}`);
    out[i] = c;
  }
  return out;
}

/** numpy.core.multiarray.scalar(dtype, data): the decoded number or boolean, or a NumpyScalar placeholder. */
function numpyScalar(args: unknown[]): unknown {
  const [dtype, data] = args;
  if (!(dtype instanceof NumpyDtype)) throw new Error(`pickle: numpy scalar of a ${describe(dtype)}, not a numpy.dtype`);
  const bytes = typeof data === 'string' ? latin1Bytes(data) : data; // Python 2 pickles carry str
  const kind = dtype.kind;
  if (!kind || !(bytes instanceof Uint8Array)) return new NumpyScalar(dtype, data ?? null);
  if (bytes.length !== kind.size) throw new Error(`pickle: numpy ${kind.name} scalar with ${bytes.length} bytes of data`);
  return kind.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, dtype.littleEndian);
}

const numpyMultiarray: Record<string, AllowedGlobal> = {
  scalar: { call: numpyScalar },
  _reconstruct: {
    call: (args) => {
      const sub = args[0];
      if (!(sub instanceof PyGlobal) || sub.module !== 'numpy' || sub.name !== 'ndarray') throw new Error(`pickle: numpy _reconstruct of a ${describe(sub)}, not numpy.ndarray`);
      return new NumpyArray();
    },
  },
};

const emptyBytes: AllowedGlobal = {
  call: (args) => {
    if (args.length) throw new Error('pickle: bytes(...) is only allowed without arguments (how pickle writes b"")');
    return new Uint8Array(0);
  },
};

/**
 * Data-only stand-ins for the globals numpy scalars, arrays and dtypes pickle through (numpy 1.x numpy.core and
 * numpy 2.x numpy._core spellings), plus _codecs.encode(str, 'latin1') and bytes() with which protocols < 3 write
 * bytes. Decoded kinds: float64/32, int64/32/16/8, uint64/32/16/8, bool; other kinds become NumpyScalar or an
 * undecoded NumpyArray.
 */
export const NUMPY_GLOBALS: AllowList = Object.freeze({
  ...Object.fromEntries(
    ['numpy.core.multiarray', 'numpy._core.multiarray'].flatMap((m) => Object.entries(numpyMultiarray).map(([name, spec]) => [`${m}.${name}`, spec])),
  ),
  'numpy.dtype': {
    call: (args) => {
      const [str] = args;
      if (typeof str !== 'string' || !/^[A-Za-z?][A-Za-z0-9]{0,15}$/.test(str)) throw new Error(`pickle: numpy.dtype(${typeof str === 'string' ? JSON.stringify(str.slice(0, 20)) : describe(str)}) is not a numpy type string`);
      return new NumpyDtype(str);
    },
  },
  'numpy.ndarray': {},
  '_codecs.encode': {
    call: (args) => {
      const [s, encoding] = args;
      if (typeof s !== 'string' || args.length !== 2 || (encoding !== 'latin1' && encoding !== 'latin-1')) {
        throw new Error("pickle: _codecs.encode is only allowed as encode(str, 'latin1'), how pickle writes bytes");
      }
      return latin1Bytes(s);
    },
  },
  'builtins.bytes': emptyBytes,
  '__builtin__.bytes': emptyBytes,
});
