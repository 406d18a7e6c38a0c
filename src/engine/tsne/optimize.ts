/**
 * t-SNE's optimizer: exact gradient of KL(P || Q) with a Student-t Q in 2-D, by gradient descent with momentum and
 * per-coordinate gains (van der Maaten & Hinton, 2008; van der Maaten, 2014).
 *
 * With w_ij = 1 / (1 + |y_i - y_j|^2) and q_ij = w_ij / Z, the gradient is
 * dC/dy_i = 4 sum_j p_ij w_ij (y_i - y_j) - (4 / Z) sum_j w_ij^2 (y_i - y_j). One dense pass over the pairs i < j
 * gives Z and the repulsion (each pair once, updating both ends); one pass over the sparse P gives the attraction.
 */
import type { Affinities } from './affinities';

/** Optimizer settings of one run. */
export interface OptimizeOptions {
  /** Gradient steps in all, including the exaggerated ones. */
  iterations: number;
  /** Step size; gains multiply it per coordinate. */
  learningRate: number;
  /** P is multiplied by this for the first `exaggerationIterations` steps (1: none). */
  exaggeration: number;
  exaggerationIterations: number;
  /** Momentum during exaggeration, and after it. */
  momentum: number;
  finalMomentum: number;
  /** Stop when KL, checked every `checkEvery` steps after exaggeration, improved by less than this share. */
  tolerance: number;
  checkEvery: number;
}

/** What a run did. */
export interface OptimizeResult {
  /** KL(P || Q) of the final layout (P not exaggerated). */
  kl: number;
  /** Gradient steps taken. */
  iterations: number;
}

const MIN_GAIN = 0.01;

/**
 * Gradient of KL(exaggeration * P || Q) at layout `y` ([n, 2] interleaved) into `grad` ([n, 2]), with `rep`
 * ([n, 2]) as scratch; returns Z. Repulsion runs over every pair (the dense part, each pair once), attraction only
 * over the pairs where p_ij > 0.
 */
export function gradient(P: Affinities, y: Float64Array, exaggeration: number, grad: Float64Array, rep: Float64Array): number {
  const n = P.n;
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i];
    const yi = y[2 * i + 1];
    let rx = 0;
    let ry = 0;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j];
      const dy = yi - y[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      const ww = w * w;
      const gx = ww * dx;
      const gy = ww * dy;
      rx += gx;
      ry += gy;
      rep[2 * j] -= gx;
      rep[2 * j + 1] -= gy;
    }
    rep[2 * i] += rx;
    rep[2 * i + 1] += ry;
  }
  z *= 2; // both (i, j) and (j, i)
  const c = 4 / z;
  for (let q = 0; q < 2 * n; q++) grad[q] = -c * rep[q];
  // Attraction: 4 * exaggeration * p_ij * w_ij * (y_i - y_j), added to i and subtracted from j.
  const { rowStart, cols, vals } = P;
  const a = 4 * exaggeration;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i];
    const yi = y[2 * i + 1];
    let ax = 0;
    let ay = 0;
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
      const j = cols[e];
      const dx = xi - y[2 * j];
      const dy = yi - y[2 * j + 1];
      const f = (a * vals[e]) / (1 + dx * dx + dy * dy);
      ax += f * dx;
      ay += f * dy;
      grad[2 * j] -= f * dx;
      grad[2 * j + 1] -= f * dy;
    }
    grad[2 * i] += ax;
    grad[2 * i + 1] += ay;
  }
  return z;
}

/** KL(P || Q) of layout `y`; pairs with p = 0 add nothing but still count in Q's normalization. */
export function klDivergence(P: Affinities, y: Float64Array): number {
  const n = P.n;
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i];
    const yi = y[2 * i + 1];
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j];
      const dy = yi - y[2 * j + 1];
      z += 1 / (1 + dx * dx + dy * dy);
    }
  }
  let cross = 0; // sum over i < j of p_ij log(p_ij / w_ij), log(p / w) = log p + log(1 + d^2)
  let mass = 0;
  for (let i = 0; i < n; i++) {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) {
      const j = P.cols[e];
      const dx = y[2 * i] - y[2 * j];
      const dy = y[2 * i + 1] - y[2 * j + 1];
      const p = P.vals[e];
      cross += p * (Math.log(p) + Math.log1p(dx * dx + dy * dy));
      mass += p;
    }
  }
  // KL = sum_{i != j} p log(p Z / w) = 2 cross + log(Z) * sum_{i != j} p, Z summed over i != j.
  return 2 * cross + 2 * mass * Math.log(2 * z);
}

/**
 * Moves `y` ([n, 2], updated in place) down KL(P || Q). Gains and velocities start fresh; the layout is kept
 * centred at the origin after every step.
 */
export function optimize(P: Affinities, y: Float64Array, o: OptimizeOptions): OptimizeResult {
  const n = P.n;
  if (y.length !== 2 * n) throw new Error(`t-SNE: expected a ${n}x2 layout, got ${y.length} values`);
  const grad = new Float64Array(2 * n);
  const rep = new Float64Array(2 * n);
  const velocity = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  let lastKl = Infinity;
  let it = 0;
  for (; it < o.iterations; it++) {
    const exaggerated = it < o.exaggerationIterations;
    const momentum = exaggerated ? o.momentum : o.finalMomentum;
    if (it > 0 && it === o.exaggerationIterations) {
      // Exaggeration ends: start the free phase with fresh velocities and gains, as the reference implementations do.
      velocity.fill(0);
      gains.fill(1);
    }
    gradient(P, y, exaggerated ? o.exaggeration : 1, grad, rep);
    let mx = 0;
    let my = 0;
    for (let c = 0; c < 2 * n; c++) {
      const g = grad[c];
      // Grow the gain where the gradient keeps pointing the way we are already moving (velocity opposes it).
      gains[c] = Math.max(MIN_GAIN, (g > 0) !== (velocity[c] > 0) ? gains[c] + 0.2 : gains[c] * 0.8);
      velocity[c] = momentum * velocity[c] - o.learningRate * gains[c] * g;
      y[c] += velocity[c];
      if (c & 1) my += y[c];
      else mx += y[c];
    }
    mx /= n;
    my /= n;
    for (let i = 0; i < n; i++) {
      y[2 * i] -= mx;
      y[2 * i + 1] -= my;
    }
    const done = it + 1;
    if (o.tolerance > 0 && done > o.exaggerationIterations && o.checkEvery > 0 && (done - o.exaggerationIterations) % o.checkEvery === 0) {
      const kl = klDivergence(P, y);
      if (lastKl - kl < o.tolerance * Math.abs(kl)) {
        it++;
        return { kl, iterations: it };
      }
      lastKl = kl;
    }
  }
  return { kl: klDivergence(P, y), iterations: it };
}
