/** Filling a config's defaults is apart from validating it: a preset's values read without a method or target. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, fillConfig, resolveConfig, validateConfig } from '../../../src/engine/defense/config';
import { presetConfig } from '../../../src/engine/defense/presets';

describe('fillConfig / validateConfig', () => {
  it('fills a preset without a target, and validation then asks for one', () => {
    const c = fillConfig(presetConfig('quick'));
    expect(c.method).toBe(DEFAULT_CONFIG.method);
    expect(c.evalFinalSize).toBe(0);
    expect(c.inversion.patience).toBe(0);
    expect(c.inversion.lambda).toBe(DEFAULT_CONFIG.inversion.lambda);
    expect(() => validateConfig(c)).toThrow(/needs a target class/);
    expect(resolveConfig({ ...presetConfig('quick'), target: 5 })).toEqual({ ...c, target: 5 });
  });
});
