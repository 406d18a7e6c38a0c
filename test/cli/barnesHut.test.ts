import { describe, expect, it } from 'vitest';
import { barnesHutRepulsion } from '../../src/cli/bench/barnesHut';
import { createRng } from '../../src/engine/random';

/** Exact repulsion sum_j w^2 (y_i - y_j) and Z. */
function exact(y: Float64Array, n: number): { rep: Float64Array; z: number } {
  const rep = new Float64Array(2 * n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const dx = y[2 * i] - y[2 * j];
      const dy = y[2 * i + 1] - y[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      rep[2 * i] += w * w * dx;
      rep[2 * i + 1] += w * w * dy;
    }
  }
  return { rep, z };
}

describe('barnesHutRepulsion (bench:tsne)', () => {
  const n = 200;
  const rng = createRng(5);
  const y = Float64Array.from({ length: 2 * n }, (_, c) => 10 * rng.normal() + (c % 2 ? 0 : 30 * (c % 4 === 0 ? 1 : -1)));
  const ref = exact(y, n);

  it('is exact with theta 0 (every cell opened)', () => {
    const rep = new Float64Array(2 * n);
    const z = barnesHutRepulsion(y, n, 0, rep);
    expect(Math.abs(z - ref.z) / ref.z).toBeLessThan(1e-12);
    for (let c = 0; c < 2 * n; c++) expect(rep[c]).toBeCloseTo(ref.rep[c], 10);
  });

  it('approximates within a few percent with theta 0.5', () => {
    const rep = new Float64Array(2 * n);
    const z = barnesHutRepulsion(y, n, 0.5, rep);
    expect(Math.abs(z - ref.z) / ref.z).toBeLessThan(0.03);
    let err = 0;
    let norm = 0;
    for (let c = 0; c < 2 * n; c++) {
      err += (rep[c] - ref.rep[c]) ** 2;
      norm += ref.rep[c] ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(0.05);
  });
});
