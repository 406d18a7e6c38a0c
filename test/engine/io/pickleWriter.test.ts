/** PickleWriter: what it writes reads back through the unpickler. */
import { describe, expect, it } from 'vitest';
import { type PyGlobal, unpickle, type AllowList } from '../../../src/engine/io/pickle';
import { PickleWriter } from '../../../src/engine/io/pickleWriter';

const load = (b: Uint8Array, allowed: AllowList = {}): unknown => unpickle(b, { allowed }).value;

describe('PickleWriter', () => {
  it('writes ints of every width, floats, strings and tuples that read back', () => {
    const ints = [0, 255, 256, 65535, 65536, -1, -256, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1)];
    const big = [2n ** 64n, -(2n ** 64n), 2n ** 63n - 1n, -128n, 127n, 128n];
    const w = new PickleWriter().proto(2).mark();
    for (const i of [...ints, ...big]) w.int(i);
    w.float(-0.1).float(Infinity).str('ünïcode ☃').bool(true).bool(false).none();
    w.tuple(0).int(1).tuple(1).int(1).int(2).tuple(2).int(1).int(2).int(3).tuple(3);
    w.emptyDict().mark().str('k').int(1).setItems();
    const v = load(w.tuple().finish()) as unknown[];
    expect(v).toEqual([...ints, ...big.map((b) => (b >= -(2n ** 53n) && b <= 2n ** 53n ? Number(b) : b)), -0.1, Infinity, 'ünïcode ☃', true, false, null, [], [1], [1, 2], [1, 2, 3], new Map([['k', 1]])]);
  });

  it('memoizes globals: later references are BINGETs of the same value', () => {
    const w = new PickleWriter().proto(2).mark();
    for (let i = 0; i < 300; i++) w.global('m', `g${i % 280}`);
    const allowed = Object.fromEntries(Array.from({ length: 280 }, (_, i) => [`m.g${i}`, {}]));
    const v = load(w.tuple().finish(), allowed) as PyGlobal[];
    expect(v.map((g) => g.name)).toEqual(Array.from({ length: 300 }, (_, i) => `g${i % 280}`));
  });
});
