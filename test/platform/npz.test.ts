import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/engine/io/zipReader';
import { loadTrojanPatch, parseNpy, parseNpz, readNpz } from '../../src/platform/node/npz';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedDir = process.env.MCLDEF_SHARED ?? path.resolve(repoRoot, '../shared');
const trojanNpz = path.join(sharedDir, 'triggers', 'trojan_square_cifar10.npz');
const haveShared = fs.existsSync(trojanNpz);
if (!haveShared) console.warn(`[npz.test] SKIPPING the shared-trigger tests: ${trojanNpz} not found (set MCLDEF_SHARED)`);

/** A version-1 .npy file for `header` (a Python dict literal) and raw data bytes. */
function npy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let text = header + ' ';
  while ((pre + text.length + 1) % 64 !== 0) text += ' ';
  text += '\n';
  const out = new Uint8Array(pre + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(new TextEncoder().encode(text), pre);
  out.set(data, pre + text.length);
  return out;
}

/** A minimal zip (no CRCs: the reader does not check them) with each entry stored (0) or deflated (8). */
function zip(entries: { name: string; data: Uint8Array; method: 0 | 8 }[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const body = e.method === 8 ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, e.method, true);
    lv.setUint32(14, crc32(e.data), true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, e.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, e.method, true);
    cv.setUint32(16, crc32(e.data), true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const dirSize = centrals.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...centrals, eocd]);
}

describe('parseNpy', () => {
  it('reads float32, int32 scalars and uint8 arrays in C order', () => {
    const f = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
    const a = parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(f.buffer)));
    expect(a).toMatchObject({ dtype: '<f4', shape: [2, 3] });
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(f));
    const s = parseNpy(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", new Uint8Array(new Int32Array([5]).buffer), 2));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as Int32Array)).toEqual([5]);
    const u = parseNpy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", Uint8Array.from([1, 2, 250])));
    expect(u.data).toBeInstanceOf(Uint8Array);
    expect(u.shape).toEqual([3]);
  });

  it('refuses what it cannot read, naming why', () => {
    const d = new Uint8Array(8);
    expect(() => parseNpy(new Uint8Array(20), 'x.npy')).toThrow(/x.npy: not an .npy file/);
    expect(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", d))).toThrow(/Fortran-order/);
    expect(() => parseNpy(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", d))).toThrow(/unsupported dtype >f4/);
    expect(() => parseNpy(npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", d))).toThrow(/unsupported dtype <U3/);
    expect(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d))).toThrow(/truncated data: 8 bytes for 3 x <f4/);
  });
});

describe('parseNpz', () => {
  const f = new Float32Array([0.5, 1, 2, 4]);
  const x = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", new Uint8Array(f.buffer));
  const y = npy("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", new Uint8Array(new Int32Array([1]).buffer));

  it('reads stored and deflated entries', async () => {
    for (const method of [0, 8] as const) {
      const arrays = await parseNpz(zip([{ name: 'x.npy', data: x, method }, { name: 'y.npy', data: y, method }]));
      expect([...arrays.keys()]).toEqual(['x', 'y']);
      expect(Array.from(arrays.get('x')!.data as Float32Array)).toEqual([0.5, 1, 2, 4]);
      expect(Array.from(arrays.get('y')!.data as Int32Array)).toEqual([1]);
    }
  });

  it('rejects non-zips and unsupported compression', async () => {
    await expect(parseNpz(new Uint8Array(100), 'a.npz')).rejects.toThrow(/a.npz: not a zip file/);
    const z = zip([{ name: 'x.npy', data: x, method: 0 }]);
    new DataView(z.buffer, z.byteOffset).setUint16(z.length - 22 - 46 - 5 + 10, 12, true); // central dir method -> bzip2
    await expect(parseNpz(z)).rejects.toThrow(/compression method 12/);
  });
});

describe.skipIf(!haveShared)('the shared Trojan trigger', () => {
  it('is float32 [3, 32, 32], nonzero only at rows/cols 25-27, values within 0-255', async () => {
    const arrays = await readNpz(trojanNpz);
    expect(arrays.get('x')).toMatchObject({ dtype: '<f4', shape: [3, 32, 32] });
    const patch = await loadTrojanPatch(trojanNpz);
    let nonzero = 0;
    let max = 0;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          const v = patch[(c * 32 + y) * 32 + x];
          if (v !== 0) {
            nonzero++;
            expect(y >= 25 && y <= 27 && x >= 25 && x <= 27).toBe(true);
          }
          expect(v).toBeGreaterThanOrEqual(0);
          max = Math.max(max, v);
        }
    expect(nonzero).toBeGreaterThan(20); // 26 of the 27 patch values are nonzero in the shipped file
    expect(max).toBeLessThanOrEqual(255);
    expect(patch[(0 * 32 + 25) * 32 + 25]).toBeCloseTo(207.35342, 4); // channel 0, row 25, col 25
  });

  it('loadTrojanPatch names a missing key', async () => {
    await expect(loadTrojanPatch(trojanNpz, 'z')).rejects.toThrow(/no array "z" \(has x, y\)/);
  });
});
