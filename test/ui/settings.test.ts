/** The settings panel's URL round trip and the engine request it makes, detection's rule included. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, settingsFromQuery, settingsToQuery, toStartRequest } from '../../src/ui/settings';

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
});
