/**
 * One t-SNE refresh with tsne-js, warm-started from the previous embedding so points move instead of jumping.
 * Pure function of its inputs (no DOM), shared by the t-SNE worker and its tests.
 */
import TSNE from 'tsne-js';

/** A refresh request: N points of D features, and optionally the last embedding of the same N points. */
export interface EmbedRequest {
  features: Float32Array; // [N, D]
  n: number;
  dim: number;
  previous?: Float64Array; // [N, 2]
  iterations: number;
  perplexity: number;
  /** Seed of the initial layout when there is no previous embedding. */
  seed: number;
}

/** Small deterministic normal generator for the first layout (tsne-js would use Math.random). */
function seededNormals(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 1e-4 * Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/** Runs t-SNE and returns the [N, 2] embedding (unscaled, so the next refresh can continue from it). */
export function embed(req: EmbedRequest): Float64Array {
  const { n, dim, features } = req;
  if (features.length !== n * dim) throw new Error(`t-SNE: expected ${n}x${dim} features, got ${features.length} values`);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(features.subarray(i * dim, (i + 1) * dim)));
  const model = new TSNE({ dim: 2, perplexity: Math.min(req.perplexity, Math.max(2, (n - 1) / 3)), earlyExaggeration: req.previous ? 1 : 4, learningRate: 100, nIter: req.iterations, metric: 'euclidean' });
  model.init({ data: rows, type: 'dense' });
  const start = req.previous && req.previous.length === n * 2 ? req.previous : seededNormals(n * 2, req.seed);
  const emb = model.outputEmbedding as { data: Float64Array };
  emb.data.set(start);
  model.run();
  return Float64Array.from((model.outputEmbedding as { data: Float64Array }).data);
}
