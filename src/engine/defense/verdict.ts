/**
 * What a finished run should tell its user in words: the warnings a teacher can read out when the defense cost
 * the target class, found only a diffuse mask, or left the backdoor working. Computed once here from the run's
 * own measurements and carried in the summary (events.ts DefenseSummary), so the page and the CLI say the same.
 */
import type { DefenseWarning, EvalPoint } from './events';

/** A target class that lost more than this share of its accuracy (10 points) is named. */
export const TARGET_DROP_WARNING = 0.1;
/** An attack rate still above this after the run (20%) means the backdoor was not removed. */
export const ASR_LEFT_WARNING = 0.2;
/** A mask with less than this share of its strong pixels (> 0.5) inside one window a quarter of the image wide is diffuse. */
export const COMPACT_SHARE = 0.5;
/** Mask values at or below this do not count as the trigger (the haze an inversion leaves around it). */
const STRONG = 0.5;

/**
 * Share of a mask's strong pixels (values above 0.5) inside the densest square window of side
 * ceil(max(H, W) / 4) (8 pixels on 32x32): 1 for a patch trigger, low for a mask spread over the image (a
 * whole-image trigger, or an inversion that did not find the trigger). mask: [H, W] row-major. 0 when no pixel
 * is strong.
 */
export function maskCompactness(mask: ArrayLike<number>, height: number, width: number): number {
  const side = Math.min(height, width, Math.ceil(Math.max(height, width) / 4));
  // Summed-area table [H + 1, W + 1].
  const sat = new Float64Array((height + 1) * (width + 1));
  let total = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = mask[r * width + c] > STRONG ? 1 : 0;
      total += v;
      sat[(r + 1) * (width + 1) + c + 1] = v + sat[r * (width + 1) + c + 1] + sat[(r + 1) * (width + 1) + c] - sat[r * (width + 1) + c];
    }
  }
  if (total <= 0) return 0;
  let best = 0;
  for (let r = 0; r + side <= height; r++) {
    for (let c = 0; c + side <= width; c++) {
      const s = sat[(r + side) * (width + 1) + c + side] - sat[r * (width + 1) + c + side] - sat[(r + side) * (width + 1) + c] + sat[r * (width + 1) + c];
      best = Math.max(best, s);
    }
  }
  return best / total;
}

/** What {@link defenseWarnings} looks at. */
export interface VerdictInput {
  before: EvalPoint | null;
  after: EvalPoint | null;
  /** The class purified against, and its name. */
  target: number | null;
  targetName?: string;
  /** The inverted mask [H, W], when there is one. */
  mask?: { values: ArrayLike<number>; height: number; width: number } | null;
}

/** The warnings of a finished run, most important first (none when all went well). */
export function defenseWarnings(v: VerdictInput): DefenseWarning[] {
  const out: DefenseWarning[] = [];
  const name = v.targetName ?? (v.target !== null ? `class ${v.target}` : '');
  const asr = (p: EvalPoint | null) => p?.asrTrue ?? p?.asrInverted ?? null;
  const left = asr(v.after);
  if (left !== null && left > ASR_LEFT_WARNING) {
    const which = v.after?.asrTrue !== null && v.after?.asrTrue !== undefined ? 'the real trigger' : 'the inverted trigger';
    out.push({ kind: 'backdoor-left', message: `The backdoor was not removed: ${(100 * left).toFixed(0)}% of triggered images (with ${which}) still go to ${name}.` });
  }
  const b = v.target !== null ? v.before?.perClass?.[v.target] : undefined;
  const a = v.target !== null ? v.after?.perClass?.[v.target] : undefined;
  if (b !== undefined && a !== undefined && Number.isFinite(a) && Number.isFinite(b) && b - a > TARGET_DROP_WARNING) {
    out.push({ kind: 'target-class-drop', message: `The defense broke the attacker's target class: ${name} images are recognized ${(100 * b).toFixed(0)}% → ${(100 * a).toFixed(0)}% of the time.` });
  }
  if (v.mask && maskCompactness(v.mask.values, v.mask.height, v.mask.width) < COMPACT_SHARE) {
    out.push({ kind: 'diffuse-mask', message: 'The inverted trigger is spread over the image rather than a small patch: either the real trigger covers the whole image, or stage 1 did not find it, so the purification may have missed the backdoor.' });
  }
  return out;
}
