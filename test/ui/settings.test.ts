/** The settings panel's URL round trip and the engine request it makes, detection's rule included. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, resolveConfig } from '../../src/engine/defense/config';
import { PRESETS } from '../../src/engine/defense/presets';
import { applyPreset, DEFAULT_SETTINGS, presetLabel, settingsFromQuery, settingsToQuery, toStartRequest } from '../../src/ui/settings';

describe('settings', () => {
  it('writes only what differs from the defaults and reads it back', () => {
    expect(settingsToQuery(DEFAULT_SETTINGS, '')).toBe('');
    const s = { ...DEFAULT_SETTINGS, targetMode: 'detect' as const, detectScale: 'log' as const, epochs: 5 };
    const q = settingsToQuery(s, '?model=blend');
    expect(new URLSearchParams(q).get('model')).toBe('blend');
    expect(new URLSearchParams(q).get('detectScale')).toBe('log');
    expect(settingsFromQuery(q)).toEqual(s);
    expect(settingsFromQuery('?detectScale=cubic&epochs=-3')).toEqual(DEFAULT_SETTINGS); // out of range: defaults
  });

  it('asks the engine for detection with the chosen rule, or for the known target', () => {
    const detect = toStartRequest({ ...DEFAULT_SETTINGS, targetMode: 'detect', detectScale: 'log' }, 5);
    expect(detect.config).toMatchObject({ detect: true, detection: { scale: 'log' } });
    expect(detect.config.target).toBeUndefined();
    const known = toStartRequest(DEFAULT_SETTINGS, 5);
    expect(known.config.target).toBe(5);
    expect(known.config.detect).toBeUndefined();
    // No target on the model card: detection runs with the default rule.
    expect(toStartRequest(DEFAULT_SETTINGS, null).config).toMatchObject({ detect: true, detection: { scale: 'linear' } });
  });

  it('opens on the class demo; ?preset=paper gives the paper, and edits on top of either stay in the URL', () => {
    expect(DEFAULT_SETTINGS.preset).toBe('quick');
    expect(presetLabel(DEFAULT_SETTINGS)).toBe('quick');
    const paper = applyPreset(DEFAULT_SETTINGS, 'paper');
    expect(settingsToQuery(paper, '')).toBe('?preset=paper');
    expect(settingsFromQuery('?preset=paper')).toEqual(paper);
    expect(presetLabel(paper)).toBe('paper');
    expect(paper).toMatchObject({ epochs: 20, invEpochs: 100, lr: 0.1, lambda: 0.01, tau: 0.5, cleanLimit: 0, evalSize: 1000 });
    // an edited field makes it custom, and only that field joins the preset in the URL
    const edited = { ...paper, epochs: 5 };
    expect(presetLabel(edited)).toBe('custom');
    expect(settingsToQuery(edited, '')).toBe('?preset=paper&epochs=5');
    expect(settingsFromQuery('?preset=paper&epochs=5')).toEqual(edited);
    // going back to the preset's value is the preset again
    expect(presetLabel({ ...edited, epochs: 20 })).toBe('paper');
    expect(settingsFromQuery('?preset=fast')).toEqual(DEFAULT_SETTINGS);
  });

  it('asks the engine for exactly the preset it shows', () => {
    const paper = toStartRequest(applyPreset(DEFAULT_SETTINGS, 'paper'), 5);
    const { probePerClass: _p, seed: _s, inversion: { snapshotEvery: _n, ...inv }, ...rest } = resolveConfig(paper.config);
    const { probePerClass: _p2, seed: _s2, inversion: { snapshotEvery: _n2, ...inv2 }, ...rest2 } = { ...DEFAULT_CONFIG, target: 5 };
    expect(rest).toEqual(rest2);
    expect(inv).toEqual(inv2);
    expect(paper.cleanLimit).toBe(0);
    const quick = resolveConfig(toStartRequest(DEFAULT_SETTINGS, 5).config);
    expect(quick.inversion.converge).toEqual(PRESETS.quick.config.inversion!.converge);
    expect(quick.lr).toEqual(PRESETS.quick.config.lr);
    expect(toStartRequest(DEFAULT_SETTINGS, 5).cleanLimit).toBe(PRESETS.quick.cleanImages);
    // the learning-rate field scales the preset's schedule
    expect(resolveConfig(toStartRequest({ ...DEFAULT_SETTINGS, lr: 0.05 }, 5).config).lr.values).toEqual([0.05, 0.005]);
  });
});
