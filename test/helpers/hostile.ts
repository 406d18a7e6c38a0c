/**
 * Hostile inputs, generated (no binary blobs in the repository): each function returns the bytes of one bad file
 * of the kinds a hostile-input campaign tried against the readers. Small on disk; some declare huge sizes.
 */
import { constants as zconst, deflateRawSync } from 'node:zlib';
import { PickleWriter } from '../../src/engine/io/pickleWriter';
import { writeSafetensors } from '../../src/engine/io/safetensors';
import { crc32 } from '../../src/engine/io/zipReader';
import { writeZip } from '../../src/engine/io/zipWriter';
import { pngBytes } from './images';

const enc = new TextEncoder();

/** A tensor as torch pickles it: _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict()). */
function tensor(w: PickleWriter, key: string, storageNumel: number, size: number[], stride: number[]): void {
  const ints = (xs: number[]) => {
    w.mark();
    for (const x of xs) w.int(x);
    w.tuple();
  };
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(storageNumel).tuple().persistentId();
  w.int(0);
  ints(size);
  ints(stride);
  w.bool(false);
  w.global('collections', 'OrderedDict').tuple(0).reduce();
  w.tuple().reduce();
}

/** A zip-format checkpoint holding `tensors` (name, size, stride), each over its own storage of `storageNumel` floats. */
export function pthWithViews(tensors: Array<{ name: string; size: number[]; stride: number[] }>, storageNumel = 1): Uint8Array {
  const w = new PickleWriter().proto(2);
  w.global('collections', 'OrderedDict').tuple(0).reduce().mark();
  tensors.forEach((t, i) => {
    w.str(t.name);
    tensor(w, String(i), storageNumel, t.size, t.stride);
  });
  w.setItems();
  return zipCheckpoint(w.finish(), tensors.map((_, i) => ({ key: String(i), data: new Uint8Array(4 * storageNumel) })));
}

/** Wraps a data.pkl (and storages) as torch.save's zip archive. */
export function zipCheckpoint(pkl: Uint8Array, storages: Array<{ key: string; data: Uint8Array }> = []): Uint8Array {
  return writeZip(
    [
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/byteorder', data: enc.encode('little') },
      ...storages.map((s) => ({ name: `archive/data/${s.key}`, data: s.data })),
      { name: 'archive/version', data: enc.encode('3\n') },
    ],
    { align: 64 },
  );
}

/** Raw pickle bytes: PROTO 2, the body, STOP. */
const pickle = (body: number[]): Uint8Array => Uint8Array.from([0x80, 2, ...body, 0x2e]);

/** A list nested `depth` deep: [[[...]]] (EMPTY_LIST x depth, APPEND x depth-1). */
export function deepListPickle(depth: number): Uint8Array {
  return pickle([...new Array(depth).fill(0x5d), ...new Array(depth - 1).fill(0x61)]);
}

/** A dict nested `depth` deep: {0: {0: ...}} (EMPTY_DICT, BININT1 0 pairs, then SETITEM x depth-1). */
export function deepDictPickle(depth: number): Uint8Array {
  const body: number[] = [];
  for (let i = 0; i < depth - 1; i++) body.push(0x7d, 0x4b, 0);
  body.push(0x7d, ...new Array(depth - 1).fill(0x73));
  return pickle(body);
}

/** One list receiving `n` items in a single APPENDS. */
export function hugeAppendsPickle(n: number): Uint8Array {
  const body = [0x5d, 0x28];
  for (let i = 0; i < n; i++) body.push(0x4b, i & 0xff);
  body.push(0x65);
  return pickle(body);
}

/** A state_dict whose second entry is a subprocess.Popen call, as Python 3's torch.save (protocol 2) writes it. */
export function popenPth(): Uint8Array {
  const w = new PickleWriter().proto(2);
  w.global('collections', 'OrderedDict').tuple(0).reduce().mark();
  w.str('w');
  tensor(w, '0', 2, [2], [1]);
  w.str('x');
  w.global('commands', 'Popen'); // subprocess.Popen under its Python 2 name (pickle's fix_imports)
  w.mark().str('touch').str('/tmp/mcldef-pwned-by-hostile-test').tuple().tuple(1).reduce();
  w.setItems();
  return zipCheckpoint(w.finish(), [{ key: '0', data: new Uint8Array(8) }]);
}

/** A safetensors file with a hand-written header (its data: `dataBytes` zero bytes). */
export function safetensorsWithHeader(header: unknown, dataBytes = 16): Uint8Array {
  const json = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}

/** A valid safetensors file of two float tensors with `metadata`. */
export function safetensorsWithMetadata(metadata: Record<string, string>): Uint8Array {
  return writeSafetensors(new Map([['a', { dtype: 'F32', shape: [2], data: new Float32Array(2) }]]), metadata);
}

/** PNG bytes whose header declares `width` x `height` (the rest is a real small image's, so the CRC is off). */
export function hugePng(width: number, height: number): Uint8Array {
  const b = new Uint8Array(pngBytes(8, 1)); // a copy (a Buffer's slice would be a view into its pool)
  const view = new DataView(b.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return b;
}

/** A real PNG cut short at `keep` of its bytes. */
export function truncatedPng(keep = 0.6): Uint8Array {
  const b = new Uint8Array(pngBytes(8, 2));
  return b.slice(0, Math.floor(b.length * keep));
}

/**
 * A zip of `n` class-folder images whose central directory declares `declared` bytes each (the data is a few bytes):
 * what a zip of highly compressible entries looks like before inflating.
 */
export function inflatingZip(n: number, declared: number): Uint8Array {
  const zip = writeZip(Array.from({ length: n }, (_, i) => ({ name: `c/${i}.png`, data: enc.encode('x') })));
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let p = 0; p + 4 <= zip.length; p++) if (view.getUint32(p, true) === 0x02014b50) view.setUint32(p + 24, declared, true); // uncompressed size
  return zip;
}

/**
 * Raw deflate data that inflates to `bytes` zeros (any size: a 1 MiB block, flushed to a byte boundary, repeated),
 * about 1 KB per MiB.
 */
export function deflatedZeros(bytes: number): Uint8Array {
  const MiB = 2 ** 20;
  const block = deflateRawSync(new Uint8Array(MiB), { flush: zconst.Z_SYNC_FLUSH, finishFlush: zconst.Z_SYNC_FLUSH });
  const tail = deflateRawSync(new Uint8Array(bytes % MiB)); // ends with the final block
  const whole = Math.floor(bytes / MiB);
  const out = new Uint8Array(whole * block.length + tail.length);
  for (let i = 0; i < whole; i++) out.set(block, i * block.length);
  out.set(tail, whole * block.length);
  return out;
}

/**
 * A zip of deflated entries whose headers (central directory and local) declare `declared` bytes while the data
 * inflates to `inflates` bytes of zeros, and the CRC is that of the declared size's zeros: a zip bomb that lies.
 * Entries without `inflates` hold `data` deflated, honestly declared.
 */
export function lyingZip(entries: Array<{ name: string; declared?: number; inflates?: number; data?: Uint8Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const header = (sig: number, size: number, csize: number, crc: number, name: Uint8Array, local: number | undefined): Uint8Array => {
    const n = local === undefined ? 30 : 46;
    const b = new Uint8Array(n + name.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, sig, true);
    const at = local === undefined ? 4 : 6; // version needed .. name length, shared layout from here
    if (local !== undefined) v.setUint16(4, 20, true);
    v.setUint16(at, 20, true);
    v.setUint16(at + 4, 8, true); // deflate
    v.setUint32(at + 10, crc, true);
    v.setUint32(at + 14, csize, true);
    v.setUint32(at + 18, size, true);
    v.setUint16(at + 22, name.length, true);
    if (local !== undefined) v.setUint32(42, local, true);
    b.set(name, n);
    return b;
  };
  for (const e of entries) {
    const name = enc.encode(e.name);
    const plain = e.data ?? new Uint8Array(e.declared ?? 0);
    const stored = e.inflates !== undefined ? deflatedZeros(e.inflates) : deflateRawSync(plain);
    const size = e.declared ?? plain.length;
    const crc = crc32(e.inflates !== undefined ? new Uint8Array(size) : plain);
    central.push(header(0x02014b50, size, stored.length, crc, name, offset));
    const local = header(0x04034b50, size, stored.length, crc, name, undefined);
    parts.push(local, stored);
    offset += local.length + stored.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, cdSize, true);
  v.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let p = 0;
  for (const part of all) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * A run-length-encoded 8-bit BMP (BI_RLE8) declaring `width` x `height` pixels: two palette colours and an
 * end-of-bitmap code, under 100 bytes, that a browser would decode to width x height x 4 bytes.
 */
export function rleBmp(width: number, height: number): Uint8Array {
  const palette = 2 * 4;
  const data = Uint8Array.from([0, 1]); // end of bitmap: the rest stays colour 0
  const offset = 14 + 40 + palette;
  const b = new Uint8Array(offset + data.length);
  const v = new DataView(b.buffer);
  b.set(enc.encode('BM'), 0);
  v.setUint32(2, b.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, 40, true); // BITMAPINFOHEADER
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true); // planes
  v.setUint16(28, 8, true); // bits per pixel
  v.setUint32(30, 1, true); // BI_RLE8
  v.setUint32(34, data.length, true);
  v.setUint32(46, 2, true); // colours used
  v.setUint32(58, 0xffffff, true); // colour 1: white
  b.set(data, offset);
  return b;
}

/** A GIF whose logical screen is 1x1 but whose one frame is `width` x `height` (browsers grow the canvas to it). */
export function overhangingGif(width: number, height: number): Uint8Array {
  const b = [...enc.encode('GIF89a'), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]; // screen 1x1, 2-colour table
  b.push(0x2c, 0, 0, 0, 0, width & 0xff, width >> 8, height & 0xff, height >> 8, 0); // image descriptor
  b.push(2, 2, 0x4c, 0x01, 0, 0x3b); // LZW data (one pixel), end of blocks, trailer
  return Uint8Array.from(b);
}

/** A lossless WebP (VP8L) header declaring `width` x `height` (each at most 16384), with no image data after it. */
export function bigWebp(width: number, height: number): Uint8Array {
  const b = new Uint8Array(30);
  const v = new DataView(b.buffer);
  b.set(enc.encode('RIFF'), 0);
  v.setUint32(4, b.length - 8, true);
  b.set(enc.encode('WEBPVP8L'), 8);
  v.setUint32(16, 10, true);
  b[20] = 0x2f; // VP8L signature
  v.setUint32(21, (width - 1) | ((height - 1) << 14), true);
  return b;
}
