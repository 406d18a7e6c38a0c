/**
 * How many clean images a run gets from a loaded set: a share of the training set (the demo ships 5% of it),
 * class by class, then a cap on images. The one home of that count: the worker's cut (worker/cleanSubset.ts),
 * the page's estimate (ui/estimate.ts) and the plan's sizes all use it. Imports nothing.
 */

/** The demo ships 5% of the training set; a smaller share subsamples it. */
export const SHIPPED_PERCENT = 5;

/** How to cut the clean set: percent of the training set (of the shipped 5%), and a cap on images (0: none). */
export interface CleanCut {
  percent: number;
  limit: number;
}

/** Images a class of `n` keeps at `percent` of the training set (at least one when it has any). */
export function classShare(n: number, percent: number): number {
  if (n === 0 || percent >= SHIPPED_PERCENT) return n;
  return Math.max(1, Math.round((Math.max(0, percent) / SHIPPED_PERCENT) * n));
}

/** Images the cut keeps of a set with `counts` images per class: each class's share, then the cap. */
export function cleanCount(counts: readonly number[], cut: CleanCut): number {
  const n = counts.reduce((s, c) => s + classShare(c, cut.percent), 0);
  return cut.limit > 0 ? Math.min(n, cut.limit) : n;
}
