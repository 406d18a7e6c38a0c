import TSNE from 'tsne-js';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/engine/random';
import { type Affinities, jointProbabilities, pairCount, pairIndex, squaredDistances } from '../../../src/engine/tsne/affinities';
import { embed, optimizeOptions, randomLayout } from '../../../src/engine/tsne/embed';
import { gradient, klDivergence, optimize } from '../../../src/engine/tsne/optimize';

/** `k` Gaussian clusters of `per` points in `dim` dimensions, centres `spread` apart on average; labels by cluster. */
function clusters(k: number, per: number, dim: number, spread: number, seed: number): { x: Float32Array; labels: Int32Array; n: number } {
  const rng = createRng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => spread * rng.normal()));
  const n = k * per;
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % k;
    for (let d = 0; d < dim; d++) x[i * dim + d] = centres[i % k][d] + rng.normal();
  }
  return { x, labels, n };
}

/** Share of points whose `k` nearest neighbours in the 2-D layout are mostly of their own label. */
function knnPurity(y: Float64Array, labels: Int32Array, k: number): number {
  const n = labels.length;
  let good = 0;
  for (let i = 0; i < n; i++) {
    const d = Array.from({ length: n }, (_, j) => [(y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2, j]).filter(([, j]) => j !== i);
    d.sort((a, b) => a[0] - b[0]);
    const same = d.slice(0, k).filter(([, j]) => labels[j] === labels[i]).length;
    if (same > k / 2) good++;
  }
  return good / n;
}

/** Runs tsne-js 1.0.3 from layout `y0` and returns its final layout. */
function runTsneJs(x: Float32Array, n: number, dim: number, perplexity: number, y0: Float64Array, nIter: number): Float64Array {
  const model = new TSNE({ dim: 2, perplexity, earlyExaggeration: 4, learningRate: 100, nIter, metric: 'euclidean' });
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(x.subarray(i * dim, (i + 1) * dim)));
  model.init({ data: rows, type: 'dense' });
  (model.outputEmbedding as { data: Float64Array }).data.set(y0);
  model.run();
  return Float64Array.from((model.outputEmbedding as { data: Float64Array }).data);
}

function denseP(P: Affinities): Float64Array {
  const full = new Float64Array(P.n * P.n);
  for (let i = 0; i < P.n; i++) {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) {
      full[i * P.n + P.cols[e]] = P.vals[e];
      full[P.cols[e] * P.n + i] = P.vals[e];
    }
  }
  return full;
}

describe('affinities', () => {
  it('indexes condensed pairs row by row', () => {
    const n = 5;
    let k = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(pairIndex(i, j, n)).toBe(k++);
    expect(k).toBe(pairCount(n));
  });

  it('gives each point the asked perplexity and a symmetric P that sums to 1', () => {
    const { x, n } = clusters(3, 20, 8, 3, 1);
    const dist = squaredDistances(x, n, 8);
    const P = jointProbabilities(dist, n, 10, n - 1);
    const full = denseP(P);
    expect(full.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 10);
    // Undo the symmetrization on one point: p_{j|i} = exp(-beta d) / sum has entropy log(10). Recover it from the
    // search directly: compute the conditional of point 0 by bisection here and check P's definition with it.
    const cond = (i: number): Float64Array => {
      let lo = 0;
      let hi = 1e6;
      let p = new Float64Array(n);
      for (let s = 0; s < 200; s++) {
        const beta = (lo + hi) / 2;
        p = new Float64Array(n);
        for (let j = 0; j < n; j++) if (j !== i) p[j] = Math.exp(-beta * (j < i ? dist[pairIndex(j, i, n)] : dist[pairIndex(i, j, n)]));
        const sum = p.reduce((a, b) => a + b, 0);
        p = p.map((v) => v / sum);
        const h = -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0);
        if (h > Math.log(10)) lo = beta;
        else hi = beta;
      }
      return p;
    };
    const c = Array.from({ length: n }, (_, i) => cond(i));
    let maxDiff = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) maxDiff = Math.max(maxDiff, Math.abs(full[i * n + j] - (c[i][j] + c[j][i]) / (2 * n)));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('keeps only the 3 x perplexity nearest neighbours by default', () => {
    const { x, n } = clusters(4, 30, 8, 3, 2);
    const P = jointProbabilities(squaredDistances(x, n, 8), n, 5);
    // Each point contributes its 15 neighbours; symmetrization can only merge pairs.
    expect(P.vals.length).toBeLessThanOrEqual(15 * n);
    expect(P.vals.length).toBeGreaterThanOrEqual((15 * n) / 2);
    expect(P.vals.reduce((s, v) => s + v, 0)).toBeCloseTo(0.5, 10);
  });

  it('rejects bad input with a message', () => {
    expect(() => squaredDistances(new Float32Array(5), 2, 3)).toThrow(/expected 2x3 = 6 feature values, got 5/);
    expect(() => jointProbabilities(new Float64Array(3), 3, 5)).toThrow(/perplexity must be in/);
  });
});

describe('optimizer', () => {
  it('computes the gradient of KL(P || Q) (finite differences)', () => {
    const { x, n } = clusters(3, 8, 5, 2, 3);
    const P = jointProbabilities(squaredDistances(x, n, 5), n, 4);
    const rng = createRng(4);
    const y = new Float64Array(2 * n).map(() => rng.normal());
    const grad = new Float64Array(2 * n);
    gradient(P, y, 1, grad, new Float64Array(2 * n));
    let maxDiff = 0;
    const h = 1e-6;
    for (let c = 0; c < 2 * n; c++) {
      const y1 = Float64Array.from(y);
      const y2 = Float64Array.from(y);
      y1[c] += h;
      y2[c] -= h;
      maxDiff = Math.max(maxDiff, Math.abs((klDivergence(P, y1) - klDivergence(P, y2)) / (2 * h) - grad[c]));
    }
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('is deterministic for a seed and lowers KL', () => {
    const { x, n } = clusters(3, 20, 8, 3, 5);
    const a = embed({ features: x, n, dim: 8, perplexity: 10, seed: 7, iterations: 300 });
    const b = embed({ features: x, n, dim: 8, perplexity: 10, seed: 7, iterations: 300 });
    expect(Array.from(a.embedding)).toEqual(Array.from(b.embedding));
    const P = jointProbabilities(squaredDistances(x, n, 8), n, 10);
    expect(a.kl).toBeCloseTo(klDivergence(P, a.embedding), 12);
    expect(a.kl).toBeLessThan(klDivergence(P, randomLayout(n, 7)) / 2);
  });

  it('warm-starts from the previous layout: a small feature change moves points a little', () => {
    const { x, n, labels } = clusters(4, 25, 8, 4, 6);
    const cold = embed({ features: x, n, dim: 8, perplexity: 15, seed: 1 });
    const rng = createRng(9);
    const moved = x.map((v) => v + 0.05 * rng.normal());
    const warm = embed({ features: moved, n, dim: 8, perplexity: 15, seed: 1, previous: cold.embedding });
    let spread = 0;
    let shift = 0;
    for (let c = 0; c < 2 * n; c++) {
      spread += cold.embedding[c] ** 2;
      shift += (warm.embedding[c] - cold.embedding[c]) ** 2;
    }
    // Points glide: the mean displacement is a small share of the layout's size (a cold restart would rotate,
    // mirror or reshuffle the clusters).
    expect(Math.sqrt(shift / spread)).toBeLessThan(0.2);
    expect(warm.iterations).toBeLessThanOrEqual(optimizeOptions(n, true).iterations);
    expect(knnPurity(warm.embedding, labels, 5)).toBe(1);
  });

  it('rejects a layout of the wrong size', () => {
    const P = jointProbabilities(new Float64Array(pairCount(4)).fill(1), 4, 1);
    expect(() => optimize(P, new Float64Array(6), optimizeOptions(4, true))).toThrow(/expected a 4x2 layout, got 6 values/);
  });
});

describe('against tsne-js 1.0.3 (reference)', () => {
  // tsne-js builds P from plain (not squared) euclidean distances over all points; feeding our optimizer that same
  // P makes the two minimize the same KL, so the final values compare directly (our klDivergence equals tsne-js's
  // own reported error on its layout to 1e-6).
  it('reaches a KL within 5% of tsne-js from the same data, perplexity and initial layout', () => {
    const dim = 16;
    const perplexity = 20;
    const { x, n } = clusters(5, 30, dim, 4, 11);
    const P = jointProbabilities(squaredDistances(x, n, dim).map(Math.sqrt), n, perplexity, n - 1);
    const y0 = randomLayout(n, 3);
    const theirs = klDivergence(P, runTsneJs(x, n, dim, perplexity, y0, 1000));
    const y = Float64Array.from(y0);
    const ours = optimize(P, y, optimizeOptions(n, false)).kl;
    console.log(`KL ours ${ours.toFixed(4)}, tsne-js ${theirs.toFixed(4)} (${n} points, perplexity ${perplexity})`);
    expect(ours).toBeLessThanOrEqual(1.05 * theirs);
  });

  it('separates well-separated clusters as tsne-js does', () => {
    const dim = 10;
    const { x, n, labels } = clusters(4, 25, dim, 6, 12);
    const y0 = randomLayout(n, 5);
    const js = runTsneJs(x, n, dim, 15, y0, 500);
    const ours = embed({ features: x, n, dim, perplexity: 15, seed: 5 }).embedding;
    // Both layouts put every point among its own cluster (5-NN majority in 2-D), so a reader sees the same 4 groups.
    expect(knnPurity(js, labels, 5)).toBe(1);
    expect(knnPurity(ours, labels, 5)).toBe(1);
  });
});
