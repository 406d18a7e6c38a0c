/**
 * safetensors reader and writer (pure TypeScript, browser and Node).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the raw little-endian data.
 * The engine uses it for PyTorch-exchanged weights (reference fixtures, the zoo, exported state_dicts).
 */

/** One named tensor held as a typed array in its stored dtype. */
export interface NamedTensor {
  dtype: 'F32' | 'F64' | 'I64' | 'I32' | 'U8' | 'F16' | 'BF16';
  shape: number[];
  /** Float32 for float dtypes (F16/BF16/F64 are converted), Int32 for I32/I64 (I64 is range-checked), Uint8 for U8. */
  data: Float32Array | Int32Array | Uint8Array;
}

/** Contents of a safetensors file. */
export interface SafeTensors {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<NamedTensor['dtype'], number> = { F32: 4, F64: 8, I64: 8, I32: 4, U8: 1, F16: 2, BF16: 2 };

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Parses a safetensors file.
 * @throws Error with a message saying what was expected when the bytes are not a valid safetensors file
 */
export function readSafetensors(bytes: ArrayBuffer | Uint8Array): SafeTensors {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteLength < 8) throw new Error(`not a safetensors file: ${u8.byteLength} bytes, expected at least an 8-byte header length`);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const hi = view.getUint32(4, true);
  const headerLen = view.getUint32(0, true);
  if (hi !== 0 || headerLen === 0 || 8 + headerLen > u8.byteLength) {
    throw new Error(`not a safetensors file: header length ${hi ? '> 4 GiB' : headerLen} does not fit in ${u8.byteLength} bytes`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + headerLen)));
  } catch {
    throw new Error('not a safetensors file: the header is not valid UTF-8 JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error('not a safetensors file: header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = u8.byteLength - dataStart;
  const metadata = checkMetadata(header.__metadata__);
  const tensors = new Map<string, NamedTensor>();
  const ranges: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`safetensors: the entry of tensor "${name}" is ${raw === null ? 'null' : typeof raw}, expected {dtype, shape, data_offsets}`);
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype as NamedTensor['dtype'];
    if (typeof info.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(BYTES, dtype)) throw new Error(`safetensors: tensor "${name}" has unsupported dtype ${JSON.stringify(info.dtype)} (expected F32, F16, BF16, F64, I64, I32 or U8)`);
    const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!Array.isArray(info.shape) || !info.shape.every(isCount)) throw new Error(`safetensors: tensor "${name}" has shape ${JSON.stringify(info.shape)}, expected a list of non-negative integers`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) throw new Error(`safetensors: tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] in bytes`);
    const shape = info.shape as number[];
    const [begin, end] = offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(begin <= end && end <= dataLen && end - begin === count * BYTES[dtype])) {
      throw new Error(`safetensors: tensor "${name}" (${dtype} [${shape.join(', ')}]) has offsets [${begin}, ${end}] that do not match its size or the file (truncated?)`);
    }
    ranges.push({ name, begin, end });
    // Copy into an aligned buffer: offsets in the file need not be aligned to the element size.
    const slice = new Uint8Array(end - begin);
    slice.set(u8.subarray(dataStart + begin, dataStart + end));
    const dv = new DataView(slice.buffer);
    let data: NamedTensor['data'];
    switch (dtype) {
      case 'F32': data = new Float32Array(slice.buffer); break;
      case 'U8': data = slice; break;
      case 'I32': data = new Int32Array(slice.buffer); break;
      case 'F64': data = Float32Array.from(new Float64Array(slice.buffer)); break;
      case 'F16': data = Float32Array.from({ length: count }, (_, i) => halfToFloat(dv.getUint16(2 * i, true))); break;
      case 'BF16': data = Float32Array.from({ length: count }, (_, i) => { const b = new DataView(new ArrayBuffer(4)); b.setUint16(2, dv.getUint16(2 * i, true)); return b.getFloat32(0); }); break;
      case 'I64': {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const v = dv.getBigInt64(8 * i, true);
          if (v > 2147483647n || v < -2147483648n) throw new Error(`safetensors: tensor "${name}" holds an int64 outside the int32 range`);
          out[i] = Number(v);
        }
        data = out;
        break;
      }
    }
    tensors.set(name, { dtype, shape, data });
  }
  // Tensors must not share bytes (the format forbids it; shared bytes make two weights one, silently).
  ranges.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const [a, b] = [ranges[i - 1], ranges[i]];
    if (b.begin < a.end && b.end > b.begin) throw new Error(`safetensors: tensors "${a.name}" and "${b.name}" overlap (bytes [${a.begin}, ${a.end}) and [${b.begin}, ${b.end})); the file is damaged`);
  }
  return { tensors, metadata };
}

/** The __metadata__ map: absent, or an object of strings. */
function checkMetadata(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('safetensors: __metadata__ is not an object of strings');
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new Error(`safetensors: __metadata__ field "${k}" is ${JSON.stringify(v)}, expected a string`);
  }
  return raw as Record<string, string>;
}

/** Serializes named float32/int32/uint8 tensors (sorted by name) with optional string metadata. */
export function writeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.data.byteLength;
    const dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : 'U8';
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}
