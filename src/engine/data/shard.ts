/**
 * MCLDSET1: the project's compact binary format for a {@link Dataset} (demo subsets shipped with the app, the
 * Node cache of decoded image folders). Pure TypeScript, no Node or DOM APIs, so browser and Node share it.
 *
 * Layout (all integers little-endian):
 * ```
 * offset 0   8 bytes   magic, ASCII "MCLDSET1"
 * offset 8   uint32    L, byte length of the JSON header
 * offset 12  L bytes   UTF-8 JSON header (ShardHeader), padded with spaces so the labels start at a multiple of 4
 * then       n * s     labels, s = 1 for labelDtype "uint8", 4 for "int32" (little-endian)
 * then       n*h*w*c   images, uint8, NHWC row-major (as Dataset.images)
 * end        nothing may follow
 * ```
 * labelDtype is "uint8" when there are at most 256 classes, else "int32". `meta` is free-form JSON for provenance
 * (source folder, attack, seed); decoding ignores it, {@link readShardHeader} returns it.
 */
import { createDataset, type Dataset, validateDataset } from './dataset';

/** The 8 magic bytes at the start of every shard. */
export const SHARD_MAGIC = 'MCLDSET1';

/** The JSON header of a shard. */
export interface ShardHeader {
  n: number;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
  labelDtype: 'uint8' | 'int32';
  /** Free-form provenance; not interpreted by the engine. */
  meta?: Record<string, unknown>;
}

const PREFIX = 12; // magic + header length

/** Encodes a dataset (validated first) as one MCLDSET1 byte array. */
export function encodeShard(ds: Dataset, meta?: Record<string, unknown>): Uint8Array {
  validateDataset(ds);
  const labelDtype: ShardHeader['labelDtype'] = ds.classNames.length <= 256 ? 'uint8' : 'int32';
  const header: ShardHeader = {
    n: ds.n,
    height: ds.height,
    width: ds.width,
    channels: ds.channels,
    classNames: [...ds.classNames],
    labelDtype,
    ...(meta ? { meta } : {}),
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((PREFIX + json.length) % 4)) % 4;
  if (pad > 0) {
    const padded = new Uint8Array(json.length + pad).fill(0x20); // trailing spaces are valid JSON whitespace
    padded.set(json);
    json = padded;
  }
  const labelBytes = ds.n * (labelDtype === 'uint8' ? 1 : 4);
  const out = new Uint8Array(PREFIX + json.length + labelBytes + ds.images.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = SHARD_MAGIC.charCodeAt(i);
  view.setUint32(8, json.length, true);
  out.set(json, PREFIX);
  let off = PREFIX + json.length;
  if (labelDtype === 'uint8') {
    for (let i = 0; i < ds.n; i++) out[off + i] = ds.labels[i];
  } else {
    for (let i = 0; i < ds.n; i++) view.setInt32(off + 4 * i, ds.labels[i], true);
  }
  off += labelBytes;
  out.set(ds.images, off);
  return out;
}

function asBytes(bytes: ArrayBuffer | Uint8Array): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

function parseHeader(u8: Uint8Array): { header: ShardHeader; dataOffset: number } {
  const fail = (msg: string): never => {
    throw new Error(`Not a valid MCLDSET1 shard: ${msg}`);
  };
  if (u8.length < PREFIX) fail(`only ${u8.length} bytes, shorter than the 12-byte prefix`);
  let magic = '';
  for (let i = 0; i < 8; i++) magic += String.fromCharCode(u8[i]);
  if (magic !== SHARD_MAGIC) fail(`wrong magic ${JSON.stringify(magic)}, expected "${SHARD_MAGIC}"`);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const len = view.getUint32(8, true);
  if (PREFIX + len > u8.length) fail(`truncated: header says ${len} JSON bytes but only ${u8.length - PREFIX} follow`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(PREFIX, PREFIX + len)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const h = raw as Partial<ShardHeader>;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) fail('header is not a JSON object');
  for (const key of ['n', 'height', 'width', 'channels'] as const) {
    const v = h[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`header field ${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  if (!Array.isArray(h.classNames) || !h.classNames.every((c) => typeof c === 'string')) {
    fail('header field classNames must be an array of strings');
  }
  if (h.labelDtype !== 'uint8' && h.labelDtype !== 'int32') {
    fail(`header field labelDtype must be "uint8" or "int32", got ${JSON.stringify(h.labelDtype)}`);
  }
  return { header: h as ShardHeader, dataOffset: PREFIX + len };
}

/** Reads only the prefix and JSON header of a shard (cheap; for provenance checks such as cache validation). */
export function readShardHeader(bytes: ArrayBuffer | Uint8Array): ShardHeader {
  return parseHeader(asBytes(bytes)).header;
}

/**
 * Decodes a shard into a new Dataset (images and labels are copies, independent of `bytes`). Throws on a wrong
 * magic, a truncated or over-long buffer, a malformed header, or labels outside [0, classNames.length).
 */
export function decodeShard(bytes: ArrayBuffer | Uint8Array): Dataset {
  const u8 = asBytes(bytes);
  const { header: h, dataOffset } = parseHeader(u8);
  const labelSize = h.labelDtype === 'uint8' ? 1 : 4;
  const labelBytes = h.n * labelSize;
  const imageBytes = h.n * h.height * h.width * h.channels;
  const expected = dataOffset + labelBytes + imageBytes;
  if (u8.length < expected) {
    throw new Error(
      `Not a valid MCLDSET1 shard: truncated, ${u8.length} bytes but the header (n=${h.n}, ` +
        `${h.height}x${h.width}x${h.channels}, ${h.labelDtype} labels) needs ${expected}`,
    );
  }
  if (u8.length > expected) {
    throw new Error(`Not a valid MCLDSET1 shard: ${u8.length - expected} unexpected bytes after the images (sizes inconsistent with the header)`);
  }
  const labels = new Int32Array(h.n);
  if (labelSize === 1) {
    labels.set(u8.subarray(dataOffset, dataOffset + labelBytes));
  } else {
    const view = new DataView(u8.buffer, u8.byteOffset + dataOffset, labelBytes);
    for (let i = 0; i < h.n; i++) labels[i] = view.getInt32(4 * i, true);
  }
  const images = new Uint8Array(u8.subarray(dataOffset + labelBytes, expected)); // a copy even when u8 is a Node Buffer
  try {
    return createDataset({ images, labels, height: h.height, width: h.width, channels: h.channels, classNames: h.classNames });
  } catch (e) {
    throw new Error(`Not a valid MCLDSET1 shard: ${(e as Error).message}`);
  }
}
