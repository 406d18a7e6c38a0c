/**
 * How the page writes numbers: percentages, durations, and which attack success rate a result shows. One home for
 * each, so the panels cannot drift apart. No React, no engine.
 */
import type { EvalPoint } from '../engine/defense/events';

/** A share in [0, 1] as "83.9%"; "–" when there is none. */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : `${(100 * v).toFixed(1)}%`;
}

/** "45 s", "2 min 5 s" (rounded to the second first, so 119.6 s is "2 min 0 s"); "…" when unknown. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '…';
  const r = Math.round(seconds);
  return r >= 60 ? `${Math.floor(r / 60)} min ${r % 60} s` : `${r} s`;
}

/**
 * The attack success rate a result shows, with a label that says which it is: the true attack's when the attack is
 * known, else the inverted trigger's (what the defense itself found), else none.
 */
export function resultAsr(p: Pick<EvalPoint, 'asrTrue' | 'asrInverted'>): { label: string; value: number | null } {
  if (p.asrTrue !== null) return { label: 'ASR', value: p.asrTrue };
  if (p.asrInverted !== null) return { label: 'ASR (inverted trigger)', value: p.asrInverted };
  return { label: 'ASR', value: null };
}
