/**
 * A small ZIP reader (pure TypeScript: browsers, web workers and Node); the writer is zipWriter.ts.
 *
 * End-of-central-directory record (and its ZIP64 form, which torch.save writes even for small files), central
 * directory, local headers; entries stored (method 0) or deflated (method 8, inflated with the platform's
 * DecompressionStream('deflate-raw')). Sizes and CRCs come from the central directory, because torch.save (like
 * any streaming writer) leaves them zero in the local headers and puts them in data descriptors. Every entry is
 * CRC-checked on read. Zip bombs: an entry whose declared size exceeds the caller's cap is refused before any
 * work, and inflating counts the bytes as they come and stops at the declared size, whatever the headers say
 * (see inflateRaw: the compressed data is fed in small slices, because a browser's DecompressionStream inflates
 * a whole written chunk at once).
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

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_EOCD = 0x06054b50;
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

/** Most bytes one byte of deflate data inflates to (a 258-byte match per 2 bits, at best: 1032). */
const DEFLATE_MAX_RATIO = 1032;
/** Slices of compressed input fed to the inflater, in bytes: small near the cap, larger while far from it. */
const SLICE_MIN = 1024;
const SLICE_MAX = 64 * 1024;

/**
 * Inflates raw deflate data through the platform's DecompressionStream, counting the output as it comes and
 * stopping once it passes `limit` bytes, whatever the archive's headers said. The input goes in slices, each
 * written only after the previous one's output was read: a browser's DecompressionStream (Chromium's) inflates
 * a whole written chunk at once and queues all of its output, so 60 KB of zeros written in one piece would
 * allocate 60 MB before the first read. A slice is sized so that even at deflate's best ratio its output stays
 * within the room left (at least SLICE_MIN: about 1 MiB past the cap at most).
 */
async function inflateRaw(data: Uint8Array, limit: number, name: string): Promise<Uint8Array> {
  type Chunk = { done: boolean; value?: Uint8Array };
  interface Stream {
    writable: { getWriter(): { write(c: Uint8Array): Promise<void>; close(): Promise<void>; abort(reason?: unknown): Promise<void> } };
    readable: { getReader(): { read(): Promise<Chunk>; cancel(): Promise<void> } };
  }
  // Reached through globalThis with local types: the engine's tsconfig has no DOM library, and a runtime without
  // the API (old Node) then gets a clear message instead of a ReferenceError.
  const DS = (globalThis as unknown as { DecompressionStream?: new (format: string) => Stream }).DecompressionStream;
  if (!DS) throw new Error(`zip entry ${name} is deflated, and this JavaScript runtime has no DecompressionStream (Node 20+ or a current browser is needed)`);
  const ds = new DS('deflate-raw');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let stopped = false;
  // The feeder: a write resolves once the inflater has taken the slice, and the inflater takes the next one only
  // after the reader has drained the previous one's output (the stream's backpressure).
  const feed = (async () => {
    for (let p = 0; p < data.length && !stopped; ) {
      const room = Math.max(0, limit - total);
      const n = Math.min(SLICE_MAX, Math.max(SLICE_MIN, Math.floor(room / (2 * DEFLATE_MAX_RATIO))));
      await writer.write(data.subarray(p, p + n));
      p += n;
    }
    if (!stopped) await writer.close();
  })();
  feed.catch(() => {}); // failures surface through the reader
  try {
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
        throw new Error(`zip entry ${name} inflates past its declared size of ${limit.toLocaleString('en')} bytes: inflating stopped there (a zip bomb, or a damaged archive)`);
      }
      chunks.push(chunk.value!);
    }
  } catch (e) {
    stopped = true;
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
    throw e;
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
