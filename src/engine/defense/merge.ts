/**
 * The merge figure: does a triggered image's feature sit with its own class or with the backdoor's target?
 * Measured in the 64-d feature space (not in the 2-D t-SNE layout, which distorts distances), with cosine
 * similarity, the measure MCLDef's contrastive loss works in, so a feature's length does not count.
 *
 * For each triggered probe, its k nearest clean probes vote: "own" counts the triggered probes where more than half
 * of the k are of the probe's true class, "target" those where more than half are of the target class. The clean
 * probes' own figure (each clean probe against the other clean probes, more than half of its own class) is the
 * reference a fully merged picture reaches. "isolated" asks the other half of the question: are a triggered probe's
 * k nearest probes of all (clean and triggered) mostly triggered, i.e. does it still sit in the poisoned cluster?
 *
 * Measured on the shipped BadNets model (test/engine/defense/probe.test.ts, 50 probes per class of test-1k): the
 * triggered features form a cluster of their own (isolated 100%) that keeps much of the class structure (own 43%,
 * target 12%, clean probes 72%); the clean model with the same trigger reads isolated 8%, own 76%, target 0%, and
 * two MCLDef epochs on the BadNets model (`purify --epochs 2`, test-1k) brought it to isolated 5%, own 75%, target 1%.
 */

/** Neighbours that vote. */
export const MERGE_K = 10;

/** The merge figure of one probe set (shares in [0, 1]). */
export interface MergeFigure {
  /** Share of triggered probes whose k nearest clean probes are mostly (more than half) of their own true class. */
  own: number;
  /** Share of triggered probes whose k nearest clean probes are mostly of the target class. */
  target: number;
  /** Reference: share of clean probes whose k nearest other clean probes are mostly of their own class. */
  clean: number;
  /**
   * Share of triggered probes whose k nearest probes of all (clean and triggered) are mostly triggered ones: still
   * in a cluster of their own, the black cluster of the t-SNE. Well mixed, it falls to where chance puts it.
   */
  isolated: number;
  k: number;
  /** The target class the triggered probes were made for. */
  targetClass: number;
  /** Probes counted: triggered copies, and clean probes (the neighbour pool). */
  nTriggered: number;
  nClean: number;
}

/** Rows of `x` ([n, dim]) scaled to unit length (all-zero rows stay zero). */
function unitRows(x: Float32Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[i * dim + d] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) out[i * dim + d] = x[i * dim + d] * inv;
  }
  return out;
}

/**
 * The `k` rows of `pool` most cosine-similar to row `q` (excluding `q` itself), into `who` via a small sorted
 * buffer (`sims` is scratch of length k). Returns how many were found (k unless the pool is smaller).
 */
function nearest(u: Float64Array, dim: number, q: number, pool: Int32Array, k: number, sims: Float64Array, who: Int32Array): number {
  let filled = 0;
  for (const c of pool) {
    if (c === q) continue;
    let s = 0;
    for (let d = 0; d < dim; d++) s += u[q * dim + d] * u[c * dim + d];
    if (filled < k) filled++;
    else if (s <= sims[k - 1]) continue;
    let a = filled - 1;
    while (a > 0 && sims[a - 1] < s) {
      sims[a] = sims[a - 1];
      who[a] = who[a - 1];
      a--;
    }
    sims[a] = s;
    who[a] = c;
  }
  return filled;
}

/** The class holding more than half of the labels of rows `who[0..m)`, or -1. */
function majority(who: Int32Array, m: number, labels: Int32Array): number {
  for (let a = 0; a < m; a++) {
    let count = 0;
    for (let b = 0; b < m; b++) if (labels[who[b]] === labels[who[a]]) count++;
    if (count * 2 > m) return labels[who[a]];
  }
  return -1;
}

/**
 * The merge figure of probe features [N, dim] with their true labels and triggered flags (as the probe-features
 * event carries them), for the backdoor's `target`. Null when there are no triggered probes, no target, or fewer
 * than k + 1 clean probes.
 */
export function mergeFigure(features: Float32Array, dim: number, labels: Int32Array, triggered: Uint8Array, target: number | null, k = MERGE_K): MergeFigure | null {
  const n = labels.length;
  if (features.length !== n * dim || triggered.length !== n) throw new Error(`merge figure: expected ${n} x ${dim} features and ${n} flags, got ${features.length} values and ${triggered.length} flags`);
  const clean: number[] = [];
  const trig: number[] = [];
  for (let i = 0; i < n; i++) (triggered[i] ? trig : clean).push(i);
  if (target === null || trig.length === 0 || clean.length <= k) return null;
  const u = unitRows(features, n, dim);
  const pool = Int32Array.from(clean);
  const everyone = Int32Array.from({ length: n }, (_, i) => i);
  const sims = new Float64Array(k);
  const who = new Int32Array(k);
  let own = 0;
  let toTarget = 0;
  let isolated = 0;
  for (const q of trig) {
    let m = nearest(u, dim, q, pool, k, sims, who);
    const c = majority(who, m, labels);
    if (c === labels[q]) own++;
    if (c === target) toTarget++;
    m = nearest(u, dim, q, everyone, k, sims, who);
    let t = 0;
    for (let a = 0; a < m; a++) t += triggered[who[a]];
    if (2 * t > m) isolated++;
  }
  let cleanOwn = 0;
  for (const q of clean) {
    const m = nearest(u, dim, q, pool, k, sims, who);
    if (majority(who, m, labels) === labels[q]) cleanOwn++;
  }
  const nT = trig.length;
  return { own: own / nT, target: toTarget / nT, clean: cleanOwn / clean.length, isolated: isolated / nT, k, targetClass: target, nTriggered: nT, nClean: clean.length };
}
