/**
 * t-SNE's input side: pairwise distances and the symmetric affinities P, computed once per refresh.
 *
 * Pairs are stored condensed: the upper triangle row by row, pair (i, j) with i < j at
 * i * n - i * (i + 1) / 2 + (j - i - 1), so the optimizer can walk them in one sequential pass and see each once.
 */

/** Number of pairs i < j among n points. */
export function pairCount(n: number): number {
  return (n * (n - 1)) / 2;
}

/** Index of pair (i, j), i < j, in a condensed array of n points. */
export function pairIndex(i: number, j: number, n: number): number {
  return i * n - (i * (i + 1)) / 2 + (j - i - 1);
}

/** Squared euclidean distances of the rows of `x` ([n, dim] row-major), condensed [n(n-1)/2]. */
export function squaredDistances(x: ArrayLike<number>, n: number, dim: number): Float64Array {
  if (x.length !== n * dim) throw new Error(`t-SNE: expected ${n}x${dim} = ${n * dim} feature values, got ${x.length}`);
  const out = new Float64Array(pairCount(n));
  // Through |a|^2 + |b|^2 - 2 a.b would be faster but loses precision on close points; 64-d rows are cheap enough.
  const rows = Float64Array.from(x);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const t = rows[oi + d] - rows[oj + d];
        s += t * t;
      }
      out[k++] = s;
    }
  }
  return out;
}

/** Entropy tolerance (nats) and step cap of the per-point search for the Gaussian precision. */
const ENTROPY_TOLERANCE = 1e-5;
const MAX_SEARCH_STEPS = 100;

/**
 * Symmetric affinities in sparse form: the pairs i < j with p_ij > 0, row by row (CSR over the upper triangle).
 * The full symmetric matrix sums to 1, so `vals` sums to 1/2.
 */
export interface Affinities {
  n: number;
  /** [n + 1]: the pairs of row i are rowStart[i] .. rowStart[i + 1] - 1. */
  rowStart: Int32Array;
  /** [nnz] column j > i of each pair. */
  cols: Int32Array;
  /** [nnz] p_ij. */
  vals: Float64Array;
}

/** Puts the `k` smallest of `key[idx[0..m)]` first in `idx` (quickselect, in place). */
function selectSmallest(idx: Int32Array, m: number, k: number, key: Float64Array): void {
  let lo = 0;
  let hi = m - 1;
  while (lo < hi) {
    const pivot = key[idx[(lo + hi) >>> 1]];
    let a = lo;
    let b = hi;
    while (a <= b) {
      while (key[idx[a]] < pivot) a++;
      while (key[idx[b]] > pivot) b--;
      if (a <= b) {
        const t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
        a++;
        b--;
      }
    }
    if (k - 1 <= b) hi = b;
    else if (k - 1 >= a) lo = a;
    else return;
  }
}

/**
 * Fills p[0..k) with the conditional distribution exp(-beta r_j) / sum over the neighbours' distances r (shifted
 * by the nearest one, which keeps exp() from underflowing), beta chosen so its entropy is log(perplexity):
 * Newton steps on log(beta) (dH/dbeta = -beta Var(r)) inside a bisection bracket.
 */
function conditionalRow(r: Float64Array, k: number, target: number, p: Float64Array): void {
  let mean = 0;
  for (let a = 0; a < k; a++) mean += r[a];
  mean /= k;
  let beta = mean > 0 ? 1 / mean : 1;
  let lo = 0;
  let hi = Infinity;
  for (let step = 0; step < MAX_SEARCH_STEPS; step++) {
    let sum = 0;
    let m1 = 0;
    let m2 = 0;
    for (let a = 0; a < k; a++) {
      const e = Math.exp(-beta * r[a]);
      p[a] = e;
      sum += e;
      m1 += r[a] * e;
      m2 += r[a] * r[a] * e;
    }
    m1 /= sum;
    m2 /= sum;
    const entropy = Math.log(sum) + beta * m1; // nats
    const diff = entropy - target;
    if (Math.abs(diff) < ENTROPY_TOLERANCE) break;
    if (diff > 0) lo = beta; // too flat: sharpen
    else hi = beta;
    const slope = beta * beta * (m2 - m1 * m1); // -dH / dlog(beta)
    let next = slope > 0 ? beta * Math.exp(diff / slope) : NaN;
    if (!(next > lo && next < hi)) next = hi === Infinity ? beta * 2 : (lo + hi) / 2;
    beta = next;
  }
  let sum = 0;
  for (let a = 0; a < k; a++) sum += p[a];
  for (let a = 0; a < k; a++) p[a] /= sum;
}

/**
 * Symmetric affinities P from condensed distances (t-SNE uses squared euclidean ones). For each point, the
 * conditional p_{j|i} over its `neighbours` nearest points (the rest get 0, as in van der Maaten 2014; 3 x
 * perplexity by default, n - 1 for the fully dense P) with a Gaussian precision searched so that its perplexity is
 * `perplexity`; then p_ij = (p_{j|i} + p_{i|j}) / (2n).
 */
export function jointProbabilities(dist: Float64Array, n: number, perplexity: number, neighbours = Math.min(n - 1, Math.floor(3 * perplexity))): Affinities {
  if (dist.length !== pairCount(n)) throw new Error(`t-SNE: expected ${pairCount(n)} pair distances for ${n} points, got ${dist.length}`);
  const k = Math.min(n - 1, Math.max(1, Math.floor(neighbours)));
  if (n >= 2 && !(perplexity > 0 && perplexity <= k)) throw new Error(`t-SNE: perplexity must be in (0, ${k}] with ${k} neighbours, got ${perplexity}`);
  const target = Math.log(perplexity);
  const row = new Float64Array(n);
  const idx = new Int32Array(n - 1 > 0 ? n - 1 : 0);
  const r = new Float64Array(k);
  const p = new Float64Array(k);
  const dense = new Float64Array(pairCount(n)); // symmetric sum, condensed
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      row[j] = j < i ? dist[pairIndex(j, i, n)] : dist[pairIndex(i, j, n)];
      idx[m++] = j;
    }
    if (k < m) selectSmallest(idx, m, k, row);
    let dmin = Infinity;
    for (let a = 0; a < k; a++) dmin = Math.min(dmin, row[idx[a]]);
    for (let a = 0; a < k; a++) r[a] = row[idx[a]] - dmin;
    conditionalRow(r, k, target, p);
    for (let a = 0; a < k; a++) {
      const j = idx[a];
      dense[j < i ? pairIndex(j, i, n) : pairIndex(i, j, n)] += p[a];
    }
  }
  let nnz = 0;
  for (let q = 0; q < dense.length; q++) if (dense[q] > 0) nnz++;
  const rowStart = new Int32Array(n + 1);
  const cols = new Int32Array(nnz);
  const vals = new Float64Array(nnz);
  const scale = 1 / (2 * n);
  let q = 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    rowStart[i] = e;
    for (let j = i + 1; j < n; j++, q++) {
      if (dense[q] > 0) {
        cols[e] = j;
        vals[e++] = dense[q] * scale;
      }
    }
  }
  rowStart[n] = e;
  return { n, rowStart, cols, vals };
}
