/** The page's one home for written numbers (src/ui/format.ts): percentages, durations, which ASR a result shows. */
import { describe, expect, it } from 'vitest';
import { formatSeconds, pct, resultAsr } from '../../src/ui/format';

describe('format', () => {
  it('writes durations rounded to the second before splitting minutes', () => {
    expect(formatSeconds(119.6)).toBe('2 min 0 s'); // the ETA's own copy printed "1 min 60 s"
    expect(formatSeconds(59.5)).toBe('1 min 0 s');
    expect(formatSeconds(59.4)).toBe('59 s');
    expect(formatSeconds(NaN)).toBe('…');
  });

  it('writes shares as percentages with one decimal, and a dash for none', () => {
    expect(pct(0.8391)).toBe('83.9%');
    expect(pct(null)).toBe('–');
    expect(pct(Number.NaN)).toBe('–');
  });

  it('labels the ASR a result shows: the true attack’s, else the inverted trigger’s', () => {
    expect(resultAsr({ asrTrue: 0.011, asrInverted: 0.012 })).toEqual({ label: 'ASR', value: 0.011 });
    expect(resultAsr({ asrTrue: null, asrInverted: 0.012 })).toEqual({ label: 'ASR (inverted trigger)', value: 0.012 });
    expect(resultAsr({ asrTrue: null, asrInverted: null })).toEqual({ label: 'ASR', value: null });
  });
});
