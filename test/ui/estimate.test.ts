/** The time estimate before the click: the clean images a run uses, and the plan's time at calibrated rates. */
import { describe, expect, it } from 'vitest';
import { applyPreset, DEFAULT_SETTINGS } from '../../src/ui/settings';
import { chosenRates, cleanUsed, estimateRun, formatSeconds } from '../../src/ui/estimate';

const rates = { forward: 400, train: 100, invert: 150 };
const inputs = { cleanAvailable: 2500, evalAvailable: 1000, numClasses: 10, knownTarget: 5 };

describe('estimateRun', () => {
  it('uses the preset’s clean budget and the settings’ share', () => {
    expect(cleanUsed(DEFAULT_SETTINGS, 2500)).toBe(1000);
    expect(cleanUsed(applyPreset(DEFAULT_SETTINGS, 'paper'), 2500)).toBe(2500);
    expect(cleanUsed({ ...applyPreset(DEFAULT_SETTINGS, 'paper'), cleanPercent: 1 }, 2500)).toBe(500);
  });

  it('adds up the planned work at the calibrated rates; the class demo is far shorter than the paper', () => {
    const quick = estimateRun(DEFAULT_SETTINGS, rates, inputs, 5);
    const paper = estimateRun(applyPreset(DEFAULT_SETTINGS, 'paper'), rates, inputs, 5);
    // class demo, at most: inversion 8 epochs x 32 steps x 32 images at 150/s; purification 2 x 32 x 32 images
    // trained at 100/s plus twice that forward; evaluations at 400/s
    const inv = (8 * 32 * 32) / 150;
    const pur = (2 * 32 * 32) / 100 + (2 * 2 * 32 * 32) / 400;
    const evals = (2 * 1000 + 2 * 20 * 10 + 2 * 2 * 200 + 2 * 20 * 10 * 2 + 2 * 1000) / 400;
    expect(quick.atMost).toBeCloseTo(inv + pur + evals, 6);
    expect(quick.typical).toBeCloseTo(quick.atMost - (3 * 32 * 32) / 150, 6);
    expect(paper.typical).toBe(paper.atMost); // no convergence test: the whole budget
    expect(paper.atMost).toBeGreaterThan(20 * quick.atMost);
  });

  it('reads the chosen backend’s rates from the calibration, and formats times', () => {
    const cal = { ...rates, ms: 1, partial: false };
    expect(chosenRates({ backend: 'wasm', detail: '', skipped: [], timings: [{ name: 'webgpu', rates: null, note: 'software' }, { name: 'wasm', rates: cal, note: '' }] })).toBe(cal);
    expect(chosenRates({ backend: 'cpu', detail: '', skipped: [] })).toBeNull();
    expect(formatSeconds(45.4)).toBe('45 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
  });
});
