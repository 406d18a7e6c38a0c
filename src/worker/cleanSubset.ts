/**
 * The clean data a run gets: the loaded set, cut to a share of the training set and to an image cap, class by
 * class. Uploaded data is often unbalanced, so a class with fewer images than its quota gives all it has (and a
 * warning says so) instead of failing the run; only data a method cannot work with at all is refused.
 */
import { type Dataset, indicesByClass, subset } from '../engine/data/dataset';
import { classShare, type CleanCut, SHIPPED_PERCENT } from '../engine/data/cleanCut';
import type { Rng } from '../engine/random';

/** `want` of `members`, chosen uniformly without replacement (partial Fisher-Yates on a copy), in index order. */
function pick(members: number[], want: number, rng: Rng): number[] {
  const m = [...members];
  for (let j = 0; j < want; j++) {
    const k = j + rng.int(m.length - j);
    [m[j], m[k]] = [m[k], m[j]];
  }
  return m.slice(0, want).sort((a, b) => a - b);
}

/**
 * Splits `limit` images over classes of the given sizes as evenly as they allow: a class smaller than an even share
 * keeps all its images and the rest is shared by the others (water filling). Returns the quota per class.
 */
export function evenQuotas(sizes: readonly number[], limit: number): number[] {
  const quota = sizes.map(() => 0);
  let left = limit;
  let open = sizes.map((_, c) => c).filter((c) => sizes[c] > 0);
  while (left > 0 && open.length > 0) {
    const share = Math.floor(left / open.length);
    if (share === 0) {
      // Fewer images left than classes: one more each for the first classes, in class order.
      for (const c of open.slice(0, left)) quota[c]++;
      break;
    }
    for (const c of open) {
      const add = Math.min(share, sizes[c] - quota[c]);
      quota[c] += add;
      left -= add;
    }
    open = open.filter((c) => quota[c] < sizes[c]);
  }
  return quota;
}

/**
 * Cuts the clean set (see {@link CleanCut}). Every class keeps at least one image when it has any; classes without
 * images, and classes that have fewer than the even share of the cap, are named in `warnings`.
 * @param rng the cut's stream: the share draws from rng.fork('clean-share'), the cap from rng.fork('clean-limit')
 */
export function cutCleanSet(ds: Dataset, cut: CleanCut, rng: Rng): { dataset: Dataset; warnings: string[] } {
  const warnings: string[] = [];
  const name = (c: number) => `class ${c} (${ds.classNames[c]})`;
  let byClass = indicesByClass(ds);
  const empty = byClass.map((m, c) => (m.length === 0 ? c : -1)).filter((c) => c >= 0);
  if (empty.length > 0 && empty.length < byClass.length) {
    warnings.push(`no clean images of ${empty.map(name).join(', ')}: the run uses the other classes' images`);
  }
  let changed = false;
  if (cut.percent < SHIPPED_PERCENT) {
    const r = rng.fork('clean-share');
    byClass = byClass.map((m, c) => (m.length === 0 ? m : pick(m, classShare(m.length, cut.percent), r.fork(c))));
    changed = true;
  }
  const n = byClass.reduce((s, m) => s + m.length, 0);
  if (cut.limit > 0 && n > cut.limit) {
    const quota = evenQuotas(byClass.map((m) => m.length), cut.limit);
    const even = Math.floor(cut.limit / Math.max(1, byClass.filter((m) => m.length > 0).length));
    const short = byClass.map((m, c) => (m.length > 0 && m.length < even ? c : -1)).filter((c) => c >= 0);
    if (short.length > 0) {
      warnings.push(`${short.map((c) => `${name(c)} has ${byClass[c].length}`).join(', ')} of the ${even} clean images per class the cap of ${cut.limit} asks for: all of them are used, and other classes make up the rest`);
    }
    const r = rng.fork('clean-limit');
    byClass = byClass.map((m, c) => pick(m, quota[c], r.fork(c)));
    changed = true;
  }
  if (!changed) return { dataset: ds, warnings };
  return { dataset: subset(ds, byClass.flat().sort((a, b) => a - b)), warnings };
}

/**
 * Refuses clean data a trigger inversion cannot use: a trigger for class `target` is learnt by flipping images of
 * other classes to it, so it needs at least one of them.
 * @throws Error naming the target and what is missing
 */
export function checkInvertible(ds: Dataset, target: number): void {
  let others = 0;
  for (let i = 0; i < ds.n; i++) if (ds.labels[i] !== target) others++;
  if (others === 0) {
    throw new Error(`trigger inversion for class ${target} (${ds.classNames[target] ?? target}) needs clean images of other classes, but all ${ds.n} clean images are of class ${target}: add images of other classes`);
  }
}
