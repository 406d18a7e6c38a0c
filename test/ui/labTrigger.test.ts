/** The attack lab's pure pieces: drawing and stamping a trigger, its page-address form, the scoreboard and its CSV. */
import { describe, expect, it } from 'vitest';
import { maskParamsFromRgba } from '../../src/engine/attacks/rgba';
import { loadScores, saveScores, type ScoreRow, scoresCsv, SCOREBOARD_KEY, withDefense } from '../../src/ui/lab/scoreboard';
import { ADDRESS_MAX_PIXELS, blankTrigger, coveredPixels, decodeTrigger, encodeTrigger, paint, parseColour, stamp } from '../../src/ui/lab/trigger';

describe('lab trigger', () => {
  it('paints and erases pixels; the engine reads alpha as the mask', () => {
    let t = paint(blankTrigger(), 3, 4, parseColour('#ff8000'), 255);
    t = paint(t, 5, 5, [0, 0, 255], 128);
    t = paint(t, 40, 0, [1, 2, 3], 255); // outside: nothing
    expect(coveredPixels(t)).toBe(2);
    const p = maskParamsFromRgba(t, 32, 32);
    expect(p.mask[3 * 32 + 4]).toBe(1);
    expect(p.mask[5 * 32 + 5]).toBeCloseTo(128 / 255, 6);
    expect(Array.from(p.pattern.slice(3 * (3 * 32 + 4), 3 * (3 * 32 + 4) + 3)).map((v) => Math.round(v * 255))).toEqual([255, 128, 0]);
    expect(coveredPixels(paint(t, 3, 4, [0, 0, 0], 0))).toBe(1);
  });

  it('stamps a grid, a square, a cross and seeded noise, clipped to the image', () => {
    const grid = stamp(blankTrigger(), 'grid', 0, 0, 3, [255, 255, 255], 255);
    expect([grid[0], grid[4], grid[8]]).toEqual([255, 0, 255]); // checkerboard of the colour and its complement
    expect(coveredPixels(stamp(blankTrigger(), 'square', 30, 30, 4, [9, 9, 9], 255))).toBe(4);
    const cross = stamp(blankTrigger(), 'cross', 0, 0, 5, [0, 0, 255], 255);
    expect(Array.from(cross.subarray(0, 4))).toEqual([255, 255, 255, 255]); // corner: white
    expect(Array.from(cross.subarray(4 * 2, 4 * 2 + 4))).toEqual([0, 0, 255, 255]); // middle column: the colour
    const a = stamp(blankTrigger(), 'noise', 1, 1, 4, [0, 0, 0], 255, 7);
    expect(stamp(blankTrigger(), 'noise', 1, 1, 4, [0, 0, 0], 255, 7)).toEqual(a);
    expect(stamp(blankTrigger(), 'noise', 1, 1, 4, [0, 0, 0], 255, 8)).not.toEqual(a);
  });

  it('travels in the page address when small, and is refused there when damaged', () => {
    const t = stamp(blankTrigger(), 'grid', 28, 28, 4, [255, 0, 0], 200);
    const code = encodeTrigger(t)!;
    expect(code).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTrigger(code)).toEqual(t);
    expect(encodeTrigger(blankTrigger())).toBeNull();
    expect(encodeTrigger(stamp(blankTrigger(), 'square', 0, 0, 9, [1, 1, 1], 255))).toBeNull(); // 81 > 64 pixels
    expect(ADDRESS_MAX_PIXELS).toBe(64);
    expect(() => decodeTrigger('AAAA')).toThrow(/expected a multiple of 6/);
    expect(() => decodeTrigger('_____AAA')).toThrow(/outside the 32x32 image/);
  });
});

describe('lab scoreboard', () => {
  const row = (id: number): ScoreRow => ({ id, date: '2026-12-08', trigger: 'your trigger, "red"', code: null, target: 5, rate: 0.1, steps: 100, plantedAsr: 0.95, plantedBa: 0.83, defense: null, defendedAsr: null, defendedBa: null });

  it('keeps rows in storage, fills in the defense on the newest waiting row, and exports CSV', () => {
    const mem = new Map<string, string>();
    const storage = { getItem: (k: string) => mem.get(k) ?? null, setItem: (k: string, v: string) => void mem.set(k, v) };
    expect(loadScores(storage)).toEqual([]);
    const rows = withDefense([row(1), row(2)], 'mcldef', 0.012, 0.815);
    expect(rows[1]).toMatchObject({ defense: 'mcldef', defendedAsr: 0.012, defendedBa: 0.815 });
    expect(rows[0].defense).toBeNull();
    saveScores(storage, rows);
    expect(loadScores(storage)).toEqual(rows);
    mem.set(SCOREBOARD_KEY, '{broken');
    expect(loadScores(storage)).toEqual([]);
    const csv = scoresCsv(rows).split('\n');
    expect(csv[0]).toBe('date,trigger,code,target,rate,steps,plantedAsr,plantedBa,defense,defendedAsr,defendedBa');
    expect(csv[2]).toBe('2026-12-08,"your trigger, ""red""",,5,0.1,100,0.95,0.83,mcldef,0.012,0.815');
  });
});
