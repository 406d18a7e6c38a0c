import { describe, expect, it } from 'vitest';
import { defenseWarnings, maskCompactness } from '../../../src/engine/defense/verdict';
import type { EvalPoint } from '../../../src/engine/defense/events';

const point = (asrTrue: number | null, asrInverted: number | null, perClass: number[]): EvalPoint => ({ ba: 0.8, asrTrue, asrInverted, nClean: 100, nAsr: 90, perClass });

function patchMask(): Float32Array {
  const m = new Float32Array(32 * 32);
  for (let r = 28; r < 31; r++) for (let c = 28; c < 31; c++) m[r * 32 + c] = 1;
  m[0] = 0.05; // a little noise elsewhere
  return m;
}

describe('maskCompactness', () => {
  it('is 1 for a patch in a haze, low for strong pixels spread over the image, 0 with no strong pixel', () => {
    const hazy = patchMask().map((v) => (v === 0 ? 0.3 : v));
    expect(maskCompactness(hazy, 32, 32)).toBe(1);
    const spread = new Float32Array(32 * 32).map((_, i) => (i % 7 === 0 ? 0.8 : 0.02));
    expect(maskCompactness(spread, 32, 32)).toBeLessThan(0.15);
    expect(maskCompactness(new Float32Array(16).fill(0.4), 4, 4)).toBe(0);
  });
});

describe('defenseWarnings', () => {
  it('says nothing when the backdoor is gone and the target class kept', () => {
    const w = defenseWarnings({ before: point(1, 1, [0.8, 0.7]), after: point(0.01, 0.02, [0.79, 0.65]), target: 1, targetName: 'car', mask: { values: patchMask(), height: 32, width: 32 } });
    expect(w).toEqual([]);
  });

  it('names a target class that lost more than 10 points, a diffuse mask and a backdoor left, with the true or the inverted rate', () => {
    const spread = new Float32Array(32 * 32).fill(0.04);
    const w = defenseWarnings({ before: point(1, 1, [0.8, 0.74]), after: point(0.3, 0.02, [0.79, 0.38]), target: 1, targetName: 'bird', mask: { values: spread, height: 32, width: 32 } });
    expect(w.map((x) => x.kind)).toEqual(['backdoor-left', 'target-class-drop', 'diffuse-mask']);
    expect(w[0].message).toContain('30% of triggered images (with the real trigger) still go to bird');
    expect(w[1].message).toContain('bird images are recognized 74% → 38%');
    const inv = defenseWarnings({ before: null, after: point(null, 0.5, [0.8, 0.8]), target: 0, mask: null });
    expect(inv[0].message).toContain('with the inverted trigger');
    expect(inv[0].message).toContain('class 0');
  });
});
