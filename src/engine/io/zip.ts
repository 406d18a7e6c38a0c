/**
 * A small ZIP reader and writer (pure TypeScript: browsers, web workers and Node).
 *
 * Reader: end-of-central-directory record (and its ZIP64 form, which torch.save writes even for small files),
 * central directory, local headers; entries stored (method 0) or deflated (method 8, inflated with the platform's
 * DecompressionStream('deflate-raw')). Sizes and CRCs come from the central directory, because torch.save (like
 * any streaming writer) leaves them zero in the local headers and puts them in data descriptors. Every entry is
 * CRC-checked on read, and inflating is capped twice against zip bombs: an entry whose declared size exceeds the
 * caller's cap is refused before any work, and inflating stops as soon as the output passes the declared size.
 *
 * Writer: stored entries only (weights do not compress), each entry's data aligned through a padding extra field
 * as torch.save does (id "FB", 64 bytes), so our checkpoints look like torch's and can be memory-mapped.
 *
 * Entry names are returned as written: callers that turn them into paths must reject "..", absolute names, etc.
 */

/** One file (or directory) inside a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive, "/"-separated, as written (UTF-8, or Latin-1 when it is not valid UTF-8). */
  name: string;
  /** Uncompressed size in bytes, as declared by the central directory. */
  size: number;
  /** Stored size in bytes. */
  compressedSize: number;
  /** Compression method: 0 stored, 8 deflate (others are listed but cannot be read). */
  method: number;
  /** CRC-32 declared for the uncompressed data. */
  crc32: number;
  /** True for directory entries (names ending in "/"). */
  isDirectory: boolean;
  /** True when the entry is encrypted (it cannot be read). */
  encrypted: boolean;
  /**
   * The uncompressed bytes, CRC-checked.
   * @throws Error when the entry is encrypted, uses another method, exceeds the size cap, is truncated or corrupt
   */
  read(): Promise<Uint8Array>;
  /**
   * The bytes of a stored (method 0) entry without copying (a view into the archive), CRC-checked.
   * @throws Error for deflated entries (use read()) and for the cases of read()
   */
  readSync(): Uint8Array;
}

/** Options of readZip. */
export interface ReadZipOptions {
  /** Largest uncompressed entry size read() accepts, in bytes (default 512 MiB): the zip-bomb guard. */
  maxEntrySize?: number;
  /** Largest number of entries accepted (default 100,000). */
  maxEntries?: number;
}

/** One file for writeZip. */
export interface ZipInput {
  name: string;
  data: Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const DEFAULT_MAX_ENTRY = 512 * 1024 * 1024;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as ZIP and PNG use it) of `data`, continuing from `crc` when given. */
export function crc32(data: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** True when the bytes start like a ZIP archive (a local file header, or the end record of an empty archive). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`not a zip file: ${what} ${v} is out of range`);
  return Number(v);
}

function decodeName(raw: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    // Old tools write names in their code page without saying so; Latin-1 keeps every byte visible.
    let s = '';
    for (let i = 0; i < raw.length; i++) s += String.fromCharCode(raw[i]);
    return s;
  }
}

/** Finds the end-of-central-directory record and returns where the central directory lies. */
function findCentralDirectory(bytes: Uint8Array, view: DataView): { count: number; offset: number; size: number } {
  const n = bytes.length;
  let eocd = -1;
  // The record is 22 bytes plus a comment of at most 65535 bytes, so it lies in the last 65557 bytes.
  for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === SIG_EOCD && i + 22 + view.getUint16(i + 20, true) <= n) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    if (looksLikeZip(bytes)) {
      throw new Error(`zip archive is truncated: it starts like one, but its ${n} bytes hold no end-of-central-directory record`);
    }
    throw new Error(`not a zip file: no end-of-central-directory record in ${n} bytes`);
  }
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    throw new Error('not a zip file: multi-part (spanned) archives are not supported');
  }
  let count = view.getUint16(eocd + 10, true);
  let size = view.getUint32(eocd + 12, true);
  let offset = view.getUint32(eocd + 16, true);
  // ZIP64: a locator just before the record points at the 64-bit end record, which then holds the real values.
  const loc = eocd - 20;
  if (loc >= 0 && view.getUint32(loc, true) === SIG_EOCD64_LOCATOR) {
    const rec = u64(view, loc + 8, 'ZIP64 end record offset');
    if (rec + 56 > n || view.getUint32(rec, true) !== SIG_EOCD64) throw new Error('not a zip file: the ZIP64 end-of-central-directory record is missing or damaged');
    count = u64(view, rec + 32, 'entry count');
    size = u64(view, rec + 40, 'central directory size');
    offset = u64(view, rec + 48, 'central directory offset');
  }
  if (offset + size > n) throw new Error(`zip archive is truncated: its central directory (${size} bytes at byte ${offset}) lies past the end (${n} bytes)`);
  return { count, offset, size };
}

/** Reads the ZIP64 extended-information extra field (id 1), which replaces the 32-bit fields set to 0xffffffff. */
function applyZip64(view: DataView, extraStart: number, extraLen: number, e: { size: number; compressedSize: number; local: number }): void {
  let p = extraStart;
  const end = extraStart + extraLen;
  while (p + 4 <= end) {
    const id = view.getUint16(p, true);
    const len = view.getUint16(p + 2, true);
    if (id === 1) {
      let q = p + 4;
      const take = (): number => {
        if (q + 8 > p + 4 + len) throw new Error('not a zip file: a ZIP64 extra field is too short');
        const v = u64(view, q, 'ZIP64 field');
        q += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = take();
      if (e.compressedSize === 0xffffffff) e.compressedSize = take();
      if (e.local === 0xffffffff) e.local = take();
      return;
    }
    p += 4 + len;
  }
}

/** Inflates raw deflate data through the platform's DecompressionStream, refusing output past `limit` bytes. */
async function inflateRaw(data: Uint8Array, limit: number, name: string): Promise<Uint8Array> {
  type Chunk = { done: boolean; value?: Uint8Array };
  interface Stream {
    writable: { getWriter(): { write(c: Uint8Array): Promise<void>; close(): Promise<void> } };
    readable: { getReader(): { read(): Promise<Chunk>; cancel(): Promise<void> } };
  }
  // Reached through globalThis with local types: the engine's tsconfig has no DOM library, and a runtime without
  // the API (old Node) then gets a clear message instead of a ReferenceError.
  const DS = (globalThis as unknown as { DecompressionStream?: new (format: string) => Stream }).DecompressionStream;
  if (!DS) throw new Error(`zip entry ${name} is deflated, and this JavaScript runtime has no DecompressionStream (Node 20+ or a current browser is needed)`);
  const ds = new DS('deflate-raw');
  const writer = ds.writable.getWriter();
  // Failures surface through the reader; these promises would otherwise reject unobserved.
  writer.write(data).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Chunk;
    try {
      chunk = await reader.read();
    } catch {
      throw new Error(`zip entry ${name} is corrupt: its deflate data does not decode`);
    }
    if (chunk.done) break;
    total += chunk.value!.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw new Error(`zip entry ${name} inflates past its declared size of ${limit} bytes (corrupt, or a zip bomb)`);
    }
    chunks.push(chunk.value!);
  }
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/**
 * Lists the entries of a ZIP archive held in memory. Nothing is decompressed until an entry's read() is called.
 * @throws Error starting "not a zip file:" when there is no valid central directory, or naming the damage
 */
export function readZip(bytes: Uint8Array, options: ReadZipOptions = {}): ZipEntry[] {
  const maxEntrySize = options.maxEntrySize ?? DEFAULT_MAX_ENTRY;
  const maxEntries = options.maxEntries ?? 100_000;
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength); // not a Node Buffer, whose slice() aliases
  if (bytes.length < 22) throw new Error(`not a zip file: ${bytes.length} bytes is shorter than the smallest archive (22)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cd = findCentralDirectory(bytes, view);
  if (cd.count > maxEntries) throw new Error(`zip archive has ${cd.count} entries, more than the ${maxEntries} allowed`);
  const entries: ZipEntry[] = [];
  let p = cd.offset;
  for (let i = 0; i < cd.count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== SIG_CENTRAL) throw new Error(`not a zip file: central directory entry ${i} at byte ${p} is damaged`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > bytes.length) throw new Error(`not a zip file: central directory entry ${i} runs past the end`);
    const name = decodeName(bytes.subarray(p + 46, p + 46 + nameLen));
    const e = { size: view.getUint32(p + 24, true), compressedSize: view.getUint32(p + 20, true), local: view.getUint32(p + 42, true) };
    applyZip64(view, p + 46 + nameLen, extraLen, e);
    entries.push(makeEntry(bytes, view, { name, flags, method, crc, ...e }, maxEntrySize));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

interface RawEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  local: number;
}

function makeEntry(bytes: Uint8Array, view: DataView, r: RawEntry, maxEntrySize: number): ZipEntry {
  const { name, method, size, compressedSize } = r;
  const encrypted = (r.flags & 1) !== 0;
  /** The entry's stored bytes (a view), after checking what can be checked without decompressing. */
  const raw = (): Uint8Array => {
    if (encrypted) throw new Error(`zip entry ${name} is encrypted, which is not supported`);
    if (method !== 0 && method !== 8) throw new Error(`zip entry ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (size > maxEntrySize) throw new Error(`zip entry ${name} declares ${size} bytes, more than the ${maxEntrySize} allowed`);
    if (method === 0 && compressedSize !== size) throw new Error(`zip entry ${name} is stored but its sizes differ (${compressedSize} vs ${size}): the archive is damaged`);
    const l = r.local;
    if (l + 30 > bytes.length || view.getUint32(l, true) !== SIG_LOCAL) throw new Error(`zip entry ${name} is truncated or damaged: no local header at byte ${l}`);
    const start = l + 30 + view.getUint16(l + 26, true) + view.getUint16(l + 28, true);
    if (start + compressedSize > bytes.length) throw new Error(`zip entry ${name} is truncated: it needs ${compressedSize} bytes at byte ${start}, the archive ends at ${bytes.length}`);
    return bytes.subarray(start, start + compressedSize);
  };
  const check = (data: Uint8Array): Uint8Array => {
    if (data.length !== size) throw new Error(`zip entry ${name} is corrupt: ${data.length} bytes instead of the declared ${size}`);
    if (crc32(data) !== r.crc) throw new Error(`zip entry ${name} is corrupt: CRC-32 mismatch`);
    return data;
  };
  return {
    name,
    size,
    compressedSize,
    method,
    crc32: r.crc,
    isDirectory: name.endsWith('/'),
    encrypted,
    readSync() {
      const data = raw();
      if (method !== 0) throw new Error(`zip entry ${name} is compressed (deflate): use read()`);
      return check(data);
    },
    async read() {
      const data = raw();
      return check(method === 0 ? data : await inflateRaw(data, size, name));
    },
  };
}

/**
 * Writes a ZIP archive of stored (uncompressed) entries, in the given order. With `align`, each entry's data
 * starts at a multiple of `align` bytes, padded through an extra field the way torch.save does (64 there).
 * @throws Error when the archive would need ZIP64 (over 65535 entries or 4 GiB), which this writer does not produce
 */
export function writeZip(entries: ZipInput[], options: { align?: number } = {}): Uint8Array {
  const align = options.align ?? 1;
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  const pads: number[] = [];
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const header = 30 + names[i].length;
    // The padding field needs 4 bytes of its own, so pad from after it.
    const pad = align > 1 ? (align - ((offset + header + 4) % align)) % align : -1;
    pads.push(pad);
    offset += header + (pad >= 0 ? 4 + pad : 0) + entries[i].data.length;
  }
  const cdSize = names.reduce((a, n) => a + 46 + n.length, 0);
  const total = offset + cdSize + 22;
  if (entries.length > 0xffff || total > 0xffffffff) throw new Error(`writeZip: ${entries.length} entries / ${total} bytes need ZIP64, which this writer does not produce`);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const locals: number[] = [];
  const crcs: number[] = [];
  let p = 0;
  // Version 2.0, flag 0x800 (names are UTF-8), stored, DOS date 1980-01-01 00:00 (as torch: no real timestamps).
  const common = (at: number, i: number): void => {
    view.setUint16(at, 20, true);
    view.setUint16(at + 2, 0x800, true);
    view.setUint16(at + 4, 0, true);
    view.setUint16(at + 6, 0, true);
    view.setUint16(at + 8, 0x21, true);
    view.setUint32(at + 10, crcs[i], true);
    view.setUint32(at + 14, entries[i].data.length, true);
    view.setUint32(at + 18, entries[i].data.length, true);
    view.setUint16(at + 22, names[i].length, true);
  };
  for (let i = 0; i < entries.length; i++) {
    const extra = pads[i] >= 0 ? 4 + pads[i] : 0;
    locals.push(p);
    crcs.push(crc32(entries[i].data));
    view.setUint32(p, SIG_LOCAL, true);
    common(p + 4, i);
    view.setUint16(p + 28, extra, true);
    out.set(names[i], p + 30);
    p += 30 + names[i].length;
    if (extra) {
      view.setUint16(p, 0x4246, true); // "FB"
      view.setUint16(p + 2, pads[i], true);
      out.fill(0x5a, p + 4, p + extra); // "Z", torch's filler
      p += extra;
    }
    out.set(entries[i].data, p);
    p += entries[i].data.length;
  }
  const cdStart = p;
  for (let i = 0; i < entries.length; i++) {
    view.setUint32(p, SIG_CENTRAL, true);
    view.setUint16(p + 4, 20, true); // made by: version 2.0, MS-DOS attributes
    common(p + 6, i);
    // extra length, comment length, disk, internal and external attributes stay 0
    view.setUint32(p + 42, locals[i], true);
    out.set(names[i], p + 46);
    p += 46 + names[i].length;
  }
  view.setUint32(p, SIG_EOCD, true);
  view.setUint16(p + 8, entries.length, true);
  view.setUint16(p + 10, entries.length, true);
  view.setUint32(p + 12, p - cdStart, true);
  view.setUint32(p + 16, cdStart, true);
  return out;
}
