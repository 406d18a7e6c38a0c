/**
 * ZIP reader (src/engine/io/zipReader.ts) and writer (zipWriter.ts): round trips, torch.save's own archives (ZIP64
 * end records, data descriptors), deflated entries, ZIP64 extra fields, and the refusals (not a zip, truncated, CRC, encrypted, unknown method, zip bombs).
 */
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32, looksLikeZip, readZip } from '../../../src/engine/io/zipReader';
import { writeZip } from '../../../src/engine/io/zipWriter';
import { type EagerInflate, installEagerInflate } from '../../helpers/eagerInflate';
import { lyingZip } from '../../helpers/hostile';

const FIXTURES = new URL('../../golden/fixtures/torch/', import.meta.url);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface RawEntry {
  name: string;
  /** the bytes as stored (compressed for method 8) */
  stored: Uint8Array;
  method?: number;
  size?: number;
  /** compressed size to declare, when it should not match the stored bytes */
  csize?: number;
  crc?: number;
  flags?: number;
}

/** A hand-made archive, for the cases writeZip never produces; zip64 moves sizes and offsets into ZIP64 fields. */
function rawZip(entries: RawEntry[], zip64 = false): Uint8Array {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => { u16(v & 0xffff); u16(v >>> 16); };
  const u64 = (v: number) => { u32(v % 2 ** 32); u32(Math.floor(v / 2 ** 32)); };
  const bytes = (b: Uint8Array) => parts.push(...b);
  const locals: number[] = [];
  for (const e of entries) {
    locals.push(parts.length);
    u32(0x04034b50); u16(20); u16(e.flags ?? 0); u16(e.method ?? 0); u32(0);
    u32(e.crc ?? 0); u32(e.stored.length); u32(e.size ?? e.stored.length); u16(enc(e.name).length); u16(0);
    bytes(enc(e.name)); bytes(e.stored);
  }
  const cd = parts.length;
  entries.forEach((e, i) => {
    const size = e.size ?? e.stored.length;
    u32(0x02014b50); u16(20); u16(20); u16(e.flags ?? 0); u16(e.method ?? 0); u32(0);
    u32(e.crc ?? crc32(e.stored));
    u32(zip64 ? 0xffffffff : e.csize ?? e.stored.length); u32(zip64 ? 0xffffffff : size);
    u16(enc(e.name).length); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0);
    u32(zip64 ? 0xffffffff : locals[i]);
    bytes(enc(e.name));
    if (zip64) { u16(1); u16(24); u64(size); u64(e.stored.length); u64(locals[i]); }
  });
  const cdEnd = parts.length;
  if (zip64) {
    const rec = parts.length;
    u32(0x06064b50); u64(44); u16(45); u16(45); u32(0); u32(0);
    u64(entries.length); u64(entries.length); u64(cdEnd - cd); u64(cd);
    u32(0x07064b50); u32(0); u64(rec); u32(1);
  }
  u32(0x06054b50); u16(0); u16(0);
  u16(zip64 ? 0xffff : entries.length); u16(zip64 ? 0xffff : entries.length);
  u32(zip64 ? 0xffffffff : cdEnd - cd); u32(zip64 ? 0xffffffff : cd); u16(0);
  return Uint8Array.from(parts);
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('writeZip -> readZip', () => {
  const files = [
    { name: 'a.txt', data: enc('hello') },
    { name: 'dir/ünï cødé.bin', data: Uint8Array.from({ length: 1000 }, (_, i) => i % 251) },
    { name: 'dir/empty', data: new Uint8Array(0) },
  ];

  it('round-trips names, sizes and bytes, sync and async', async () => {
    const zip = writeZip(files);
    expect(looksLikeZip(zip)).toBe(true);
    const entries = readZip(zip);
    expect(entries.map((e) => [e.name, e.size, e.method, e.isDirectory])).toEqual(files.map((f) => [f.name, f.data.length, 0, false]));
    for (const [i, e] of entries.entries()) {
      expect(e.readSync()).toEqual(files[i].data);
      expect(await e.read()).toEqual(files[i].data);
    }
  });

  it('aligns entry data to the requested boundary, as torch.save does (64)', () => {
    const zip = writeZip(files, { align: 64 });
    for (const e of readZip(zip)) expect(e.readSync().byteOffset % 64).toBe(0);
    expect(readZip(zip).map((e) => e.name)).toEqual(files.map((f) => f.name));
  });
});

describe('readZip on other writers', () => {
  it("reads torch.save's archives (ZIP64 end record, data descriptors, zero local sizes)", async () => {
    const entries = readZip(readFileSync(new URL('state_dict_zip.pth', FIXTURES)));
    expect(entries[0].name).toBe('state_dict_zip/data.pkl');
    expect(entries.map((e) => e.name)).toContain('state_dict_zip/version');
    for (const e of entries) expect((await e.read()).length).toBe(e.size); // each CRC-checked
    expect(new TextDecoder().decode(entries.find((e) => e.name.endsWith('version'))!.readSync())).toBe('3\n');
  });

  it('inflates deflated entries, and refuses readSync on them', async () => {
    const data = enc('the quick brown fox '.repeat(200));
    const zip = rawZip([{ name: 'fox.txt', stored: deflateRawSync(data), method: 8, size: data.length, crc: crc32(data) }]);
    const [e] = readZip(zip);
    expect(e.compressedSize).toBeLessThan(e.size);
    expect(await e.read()).toEqual(data);
    expect(() => e.readSync()).toThrow('zip entry fox.txt is compressed (deflate): use read()');
  });

  it('reads ZIP64 extra fields in the central directory', async () => {
    const data = enc('sixty-four');
    const zip = rawZip([{ name: 'a', stored: enc('x'), crc: crc32(enc('x')) }, { name: 'b', stored: data, crc: crc32(data) }], true);
    const entries = readZip(zip);
    expect(entries.map((e) => [e.name, e.size])).toEqual([['a', 1], ['b', 10]]);
    expect(await entries[1].read()).toEqual(data);
  });
});

describe('readZip refusals', () => {
  it('not a zip file, and a truncated one', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(40)]);
    expect(() => readZip(png)).toThrow(/^not a zip file: no end-of-central-directory record/);
    expect(() => readZip(new Uint8Array(3))).toThrow(/^not a zip file/);
    const zip = writeZip([{ name: 'a', data: enc('abc') }]);
    expect(() => readZip(zip.subarray(0, zip.length - 10))).toThrow(/^zip archive is truncated/);
  });

  it('an entry whose data runs past the end is truncated', () => {
    // the central directory declares 5000 stored bytes; the archive holds 10
    const zip = rawZip([{ name: 'big', stored: enc('0123456789'), size: 5000, csize: 5000 }]);
    expect(() => readZip(zip)[0].readSync()).toThrow(/^zip entry big is truncated: it needs 5000 bytes at byte 33/);
    const patched = rawZip([{ name: 'big', stored: enc('0123456789'), size: 5000 }]);
    expect(() => readZip(patched)[0].readSync()).toThrow(/zip entry big is stored but its sizes differ/);
  });

  it('CRC mismatch, encryption, unknown methods', async () => {
    const good = enc('payload');
    expect(() => readZip(rawZip([{ name: 'c', stored: good, crc: 1234 }]))[0].readSync()).toThrow('zip entry c is corrupt: CRC-32 mismatch');
    await expect(readZip(rawZip([{ name: 'e', stored: good, flags: 1, crc: crc32(good) }]))[0].read()).rejects.toThrow('zip entry e is encrypted');
    await expect(readZip(rawZip([{ name: 'b', stored: good, method: 12, crc: crc32(good) }]))[0].read()).rejects.toThrow(/zip entry b uses compression method 12/);
    await expect(readZip(rawZip([{ name: 'd', stored: enc('\xff\xff not deflate'), method: 8, size: 20, crc: 0 }]))[0].read()).rejects.toThrow(/deflate data does not decode/);
  });

  it('zip bombs: refuses sizes over the cap, and stops inflating past the declared size', async () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    const bomb = deflateRawSync(zeros);
    expect(bomb.length).toBeLessThan(20_000);
    const honest = rawZip([{ name: 'z', stored: bomb, method: 8, size: zeros.length, crc: crc32(zeros) }]);
    await expect(readZip(honest, { maxEntrySize: 1 << 20 })[0].read()).rejects.toThrow(/zip entry z declares 8388608 bytes, more than the 1048576 allowed/);
    const lying = rawZip([{ name: 'z', stored: bomb, method: 8, size: 1000, crc: 0 }]);
    await expect(readZip(lying)[0].read()).rejects.toThrow(/zip entry z inflates past its declared size of 1,000 bytes/);
  });

  describe('where DecompressionStream inflates a written chunk at once (Chromium)', () => {
    let eager: EagerInflate;
    beforeEach(() => {
      eager = installEagerInflate();
    });
    afterEach(() => eager.restore());

    it('stops at the declared size, whatever the data inflates to (60 MB, 6 GiB), naming the reason', async () => {
      for (const inflates of [60 * 2 ** 20, 6 * 2 ** 30]) {
        const before = eager.produced();
        const [e] = readZip(lyingZip([{ name: 'c/0.png', declared: 1000, inflates }]));
        await expect(e.read()).rejects.toThrow(/^zip entry c\/0\.png inflates past its declared size of 1,000 bytes: inflating stopped there \(a zip bomb, or a damaged archive\)$/);
        // At most one small slice of compressed input past the cap was inflated (the stand-in counts it all).
        expect(eager.produced() - before).toBeLessThan(2 * 2 ** 20);
      }
    });

    it('still reads honest deflated entries whole', async () => {
      const data = new Uint8Array(3 * 2 ** 20).map((_, i) => (i * 7919) % 251);
      const [e] = readZip(lyingZip([{ name: 'big.bin', data }]));
      const out = await e.read();
      expect(out.length).toBe(data.length);
      expect(crc32(out)).toBe(crc32(data)); // (toEqual on 3 MB takes seconds)
    });
  });
});
