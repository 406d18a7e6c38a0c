/**
 * One t-SNE refresh of the live feature map: a pure function of plain data (no DOM, no tfjs), shared by the page's
 * t-SNE worker, its main-thread fallback, the benchmark and the tests.
 *
 * Cold start (no previous layout): a seeded random layout, early exaggeration, then free optimization.
 * Warm start (the previous layout of the same points): no exaggeration and a short run (WARM_ITERATIONS) at the
 * cold run's learning rate and final momentum, so points glide from where they were instead of the whole picture
 * being redrawn.
 */
import { createRng } from '../random';
import { jointProbabilities, squaredDistances } from './affinities';
import { optimize, type OptimizeOptions } from './optimize';

/** A refresh request: N points of D features, and optionally the last layout of the same N points. */
export interface EmbedRequest {
  /** [N, D] row-major. */
  features: Float32Array;
  n: number;
  dim: number;
  /** [N, 2] layout to continue from (warm start). */
  previous?: Float64Array;
  /** Effective perplexity is capped at (N - 1) / 3 for small N. */
  perplexity: number;
  /** Seed of the initial layout on a cold start. */
  seed: number;
  /** Gradient steps (default: {@link COLD_ITERATIONS} cold, {@link WARM_ITERATIONS} warm). */
  iterations?: number;
}

/** A finished refresh. */
export interface EmbedResult {
  /** [N, 2] layout, unscaled, so the next refresh can continue from it. */
  embedding: Float64Array;
  /** KL(P || Q) of the layout. */
  kl: number;
  /** Gradient steps taken (may stop early once KL stops improving). */
  iterations: number;
}

/**
 * Cold: 250 exaggerated steps (x12, momentum 0.5) then up to 500 free ones (momentum 0.8), openTSNE's default
 * schedule; KL is within about 1% of where another 250 steps take it (bench:tsne on real probe features).
 */
export const COLD_ITERATIONS = 750;
/** Warm: a short run from the previous layout. */
export const WARM_ITERATIONS = 200;
const EXAGGERATION = 12;
const EXAGGERATION_ITERATIONS = 250;
/** Standard deviation of the random initial layout (as in the reference implementations). */
const INIT_SCALE = 1e-4;

/** The learning rate for n points: n / exaggeration (Belkina et al., 2019), at least 50. */
export function learningRateFor(n: number): number {
  return Math.max(50, n / EXAGGERATION);
}

/** Cold- and warm-start settings of the optimizer for n points. */
export function optimizeOptions(n: number, warm: boolean, iterations?: number): OptimizeOptions {
  const lr = learningRateFor(n);
  return warm
    ? { iterations: iterations ?? WARM_ITERATIONS, learningRate: lr, exaggeration: 1, exaggerationIterations: 0, momentum: 0.8, finalMomentum: 0.8, tolerance: 1e-4, checkEvery: 50 }
    : { iterations: iterations ?? COLD_ITERATIONS, learningRate: lr, exaggeration: EXAGGERATION, exaggerationIterations: Math.min(EXAGGERATION_ITERATIONS, iterations ?? Infinity), momentum: 0.5, finalMomentum: 0.8, tolerance: 1e-4, checkEvery: 50 };
}

/** A seeded random layout [n, 2] drawn from N(0, INIT_SCALE^2). */
export function randomLayout(n: number, seed: number): Float64Array {
  const rng = createRng(seed).fork('tsne-init');
  const y = new Float64Array(2 * n);
  for (let i = 0; i < y.length; i++) y[i] = INIT_SCALE * rng.normal();
  return y;
}

/** Runs one refresh. */
export function embed(req: EmbedRequest): EmbedResult {
  const { n, dim, features } = req;
  if (!Number.isInteger(n) || n < 2) throw new Error(`t-SNE: needs at least 2 points, got ${n}`);
  const dist = squaredDistances(features, n, dim);
  const p = jointProbabilities(dist, n, Math.min(req.perplexity, Math.max(1, (n - 1) / 3)));
  const warm = req.previous !== undefined && req.previous.length === n * 2;
  const y = warm ? Float64Array.from(req.previous!) : randomLayout(n, req.seed);
  const r = optimize(p, y, optimizeOptions(n, warm, req.iterations));
  return { embedding: y, kl: r.kl, iterations: r.iterations };
}
