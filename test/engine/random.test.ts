import { describe, expect, it } from 'vitest';
import { createRng, rngFromKey, seedFor } from '../../src/engine/random';

describe('xoshiro128**', () => {
  it('matches the reference outputs for state [1, 2, 3, 4]', () => {
    const r = rngFromKey([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => r.uint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('rejects the all-zero state', () => {
    expect(() => rngFromKey([0, 0, 0, 0])).toThrow(/all-zero/);
  });
});

describe('createRng', () => {
  it('pins the first values for seed 42 (splitmix32-expanded key)', () => {
    const r = createRng(42);
    expect(r.key).toEqual([939911724, 3948730756, 321366731, 3317318717]);
    expect(Array.from({ length: 4 }, () => r.uint32())).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const s = createRng(42);
    expect(s.next()).toBe(2837322924 / 2 ** 32);
  });

  it('pins a permutation and a seedFor draw', () => {
    expect(Array.from(createRng(1).permutation(10))).toEqual([4, 1, 5, 6, 3, 0, 9, 7, 2, 8]);
    expect(seedFor(createRng(7))).toBe(1004282400);
  });

  it('is reproducible and differs across nearby seeds', () => {
    const a = createRng(3);
    const b = createRng(3);
    const c = createRng(4);
    const xs = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(xs);
  });

  it('next() stays in [0, 1) and int(n) in [0, n) with roughly uniform counts', () => {
    const r = createRng(11);
    const counts = new Array(7).fill(0);
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < 70_000; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      counts[r.int(7)]++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500); // ~5 sigma
    expect(r.int(1)).toBe(0);
    expect(() => r.int(0)).toThrow(/integer in \[1, 2\^32\]/);
    expect(() => r.int(2.5)).toThrow();
  });

  it('normal() has mean 0 and variance 1', () => {
    const r = createRng(5);
    let sum = 0;
    let sq = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.05);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });

  it('shuffle permutes in place and returns its argument', () => {
    const arr = [10, 20, 30, 40, 50, 60];
    const out = createRng(9).shuffle(arr);
    expect(out).toBe(arr);
    expect([...arr].sort((x, y) => x - y)).toEqual([10, 20, 30, 40, 50, 60]);
    const typed = createRng(9).shuffle(Int32Array.from([10, 20, 30, 40, 50, 60]));
    expect(Array.from(typed)).toEqual(arr);
    expect(createRng(1).permutation(0).length).toBe(0);
  });
});

describe('fork', () => {
  it('depends on the key and label only, not on draws made so far', () => {
    const a = createRng(42);
    const b = createRng(42);
    for (let i = 0; i < 100; i++) b.next();
    expect(a.fork('augment').uint32()).toBe(b.fork('augment').uint32());
    expect(createRng(42).fork('augment').uint32()).toBe(608427090);
  });

  it('gives distinct streams for distinct labels, seeds and label types', () => {
    const r = createRng(42);
    const firsts = [r.fork('a'), r.fork('b'), r.fork(1), r.fork('1'), r.fork(2), createRng(43).fork('a')].map((f) =>
      f.uint32(),
    );
    expect(new Set(firsts).size).toBe(firsts.length);
    expect(r.fork('x').fork('y').uint32()).not.toBe(r.fork('y').fork('x').uint32());
  });

  it('does not advance the parent', () => {
    const a = createRng(8);
    const b = createRng(8);
    a.fork('child').next();
    expect(a.uint32()).toBe(b.uint32());
  });
});

describe('seedFor', () => {
  it('returns a non-negative 31-bit integer and advances the stream', () => {
    const r = createRng(1);
    const s1 = seedFor(r);
    const s2 = seedFor(r);
    for (const s of [s1, s2]) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    expect(s1).not.toBe(s2);
  });
});
