/** The presets: "paper" is exactly DEFAULT_CONFIG, "quick" resolves to a valid shorter run, overrides merge. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, resolveConfig } from '../../../src/engine/defense/config';
import { isPresetName, PRESET_NAMES, presetConfig, PRESETS } from '../../../src/engine/defense/presets';

describe('presets', () => {
  it('paper is the paper: every setting equals DEFAULT_CONFIG, all clean data', () => {
    expect(resolveConfig(presetConfig('paper', { target: 5 }))).toEqual({ ...DEFAULT_CONFIG, target: 5 });
    expect(PRESETS.paper.cleanImages).toBe(0);
  });

  it('quick resolves to a shorter run that stops its inversion on convergence', () => {
    const q = resolveConfig(presetConfig('quick', { target: 5 }));
    expect(q.inversion.converge).not.toBeNull();
    expect(q.epochs).toBeLessThan(DEFAULT_CONFIG.epochs);
    expect(q.inversion.epochs).toBeLessThan(DEFAULT_CONFIG.inversion.epochs);
    expect(q.evalSize).toBeLessThan(DEFAULT_CONFIG.evalSize);
    expect(PRESETS.quick.cleanImages).toBeGreaterThan(0);
    // what it leaves alone is the paper's
    expect(q.tau).toBe(DEFAULT_CONFIG.tau);
    expect(q.inversion.lambda).toBe(DEFAULT_CONFIG.inversion.lambda);
    expect(q.momentum).toBe(DEFAULT_CONFIG.momentum);
  });

  it('merges overrides one level deep, keeping the preset’s other nested values', () => {
    const c = resolveConfig(presetConfig('quick', { target: 1, epochs: 7, inversion: { lambda: 0.02 } }));
    expect(c.epochs).toBe(7);
    expect(c.inversion.lambda).toBe(0.02);
    expect(c.inversion.lr).toBe(PRESETS.quick.config.inversion!.lr);
    expect(c.inversion.converge).toEqual(PRESETS.quick.config.inversion!.converge);
  });

  it('knows its names', () => {
    expect(PRESET_NAMES[0]).toBe('quick');
    expect(PRESET_NAMES.every(isPresetName)).toBe(true);
    expect(isPresetName('fast')).toBe(false);
  });
});
