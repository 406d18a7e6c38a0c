/**
 * A small ZIP writer (pure TypeScript: browsers, web workers and Node): stored entries only (weights do not
 * compress), each entry's data aligned through a padding extra field as torch.save does (id "FB", 64 bytes), so
 * our checkpoints look like torch's and can be memory-mapped. The reader is zipReader.ts.
 */
import { crc32, SIG_CENTRAL, SIG_EOCD, SIG_LOCAL } from './zipReader';

/** One file for writeZip. */
export interface ZipInput {
  name: string;
  data: Uint8Array;
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
