import { describe, expect, it } from 'vitest';
import { MERGE_K, mergeFigure } from '../../../src/engine/defense/merge';
import { createRng } from '../../../src/engine/random';

const DIM = 8;

/**
 * Clean probes of `classes` classes, `per` each, around orthogonal directions (class c along axis c); then one
 * triggered copy of every non-target clean probe, put along the target's axis when `where(i)` says 'target', else
 * along its own class's axis.
 */
function probes(classes: number, per: number, target: number, where: (i: number) => 'own' | 'target' | 'apart', seed = 1) {
  const rng = createRng(seed);
  const feats: number[][] = [];
  const labels: number[] = [];
  const triggered: number[] = [];
  // 'apart': a cluster of their own along the last axis, keeping a little of their class.
  const around = (c: number, apart = false) => Array.from({ length: DIM }, (_, d) => (apart ? (d === DIM - 1 ? 5 : d === c ? 1 : 0) : d === c ? 5 : 0) + 0.3 * Math.abs(rng.normal()));
  for (let c = 0; c < classes; c++) for (let j = 0; j < per; j++) (feats.push(around(c)), labels.push(c), triggered.push(0));
  let t = 0;
  for (let i = 0; i < classes * per; i++) {
    if (labels[i] === target) continue;
    const w = where(t++);
    feats.push(around(w === 'target' ? target : labels[i], w === 'apart'));
    labels.push(labels[i]);
    triggered.push(1);
  }
  return { features: Float32Array.from(feats.flat()), labels: Int32Array.from(labels), triggered: Uint8Array.from(triggered) };
}

/** Straightforward reference: sort every candidate by cosine similarity. */
function naive(features: Float32Array, labels: Int32Array, triggered: Uint8Array, target: number, k: number) {
  const n = labels.length;
  const row = (i: number) => Array.from(features.subarray(i * DIM, (i + 1) * DIM));
  const cos = (a: number[], b: number[]) => a.reduce((s, v, d) => s + v * b[d], 0) / Math.sqrt(a.reduce((s, v) => s + v * v, 0) * b.reduce((s, v) => s + v * v, 0));
  const vote = (q: number) => {
    const near = [...Array(n).keys()].filter((j) => !triggered[j] && j !== q).sort((a, b) => cos(row(q), row(b)) - cos(row(q), row(a))).slice(0, k);
    const counts = new Map<number, number>();
    for (const j of near) counts.set(labels[j], (counts.get(labels[j]) ?? 0) + 1);
    for (const [c, m] of counts) if (2 * m > k) return c;
    return -1;
  };
  const trig = [...Array(n).keys()].filter((i) => triggered[i]);
  const clean = [...Array(n).keys()].filter((i) => !triggered[i]);
  const isolated = (q: number) => [...Array(n).keys()].filter((j) => j !== q).sort((a, b) => cos(row(q), row(b)) - cos(row(q), row(a))).slice(0, k).filter((j) => triggered[j]).length * 2 > k;
  return {
    isolated: trig.filter(isolated).length / trig.length,
    own: trig.filter((i) => vote(i) === labels[i]).length / trig.length,
    target: trig.filter((i) => vote(i) === target).length / trig.length,
    clean: clean.filter((i) => vote(i) === labels[i]).length / clean.length,
  };
}

describe('mergeFigure', () => {
  it('reads 0% own / 100% target when every triggered copy sits with the target class', () => {
    const p = probes(4, 15, 2, () => 'target');
    const m = mergeFigure(p.features, DIM, p.labels, p.triggered, 2)!;
    expect(m).toMatchObject({ own: 0, target: 1, clean: 1, k: MERGE_K, targetClass: 2, nTriggered: 45, nClean: 60 });
  });

  it('reads 100% own when the copies sit with their own classes, and the share in between', () => {
    const merged = probes(4, 15, 2, () => 'own');
    expect(mergeFigure(merged.features, DIM, merged.labels, merged.triggered, 2)).toMatchObject({ own: 1, target: 0, clean: 1 });
    const third = probes(4, 15, 2, (i) => (i % 3 === 0 ? 'own' : 'target'));
    expect(mergeFigure(third.features, DIM, third.labels, third.triggered, 2)).toMatchObject({ own: 15 / 45, target: 30 / 45 });
  });

  it('counts triggered copies that sit in a cluster of their own as isolated', () => {
    const apart = probes(4, 15, 2, () => 'apart');
    expect(mergeFigure(apart.features, DIM, apart.labels, apart.triggered, 2)).toMatchObject({ isolated: 1, target: 0, clean: 1 });
    const half = probes(4, 15, 2, (i) => (i < 20 ? 'apart' : 'target'));
    // 20 copies apart, 25 on the target's axis among its 15 clean probes: most of their neighbours are copies too.
    expect(mergeFigure(half.features, DIM, half.labels, half.triggered, 2)!.target).toBe(25 / 45);
  });

  it('uses cosine similarity: scaling a feature does not move it', () => {
    const p = probes(4, 15, 2, (i) => (i % 2 ? 'own' : 'target'));
    const before = mergeFigure(p.features, DIM, p.labels, p.triggered, 2);
    const scaled = p.features.map((v, i) => (p.triggered[Math.floor(i / DIM)] ? 10 * v : v));
    expect(mergeFigure(scaled, DIM, p.labels, p.triggered, 2)).toEqual(before);
  });

  it('matches a straightforward sort-everything reference on overlapping classes', () => {
    const rng = createRng(3);
    const n = 90;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const triggered = Uint8Array.from({ length: n }, (_, i) => (i >= 60 && labels[i] !== 0 ? 1 : 0));
    // Class c leans on axis c with heavy noise, so votes are split and many probes get no majority.
    const features = Float32Array.from({ length: n * DIM }, (_, q) => (q % DIM === labels[Math.floor(q / DIM)] ? 1 : 0) + rng.normal());
    for (const k of [3, 10]) {
      const got = mergeFigure(features, DIM, labels, triggered, 0, k)!;
      const want = naive(features, labels, triggered, 0, k);
      expect(got.own).toBeCloseTo(want.own, 12);
      expect(got.target).toBeCloseTo(want.target, 12);
      expect(got.clean).toBeCloseTo(want.clean, 12);
      expect(got.isolated).toBeCloseTo(want.isolated, 12);
    }
  });

  it('is null without triggered probes, a target or enough clean probes, and rejects mismatched input', () => {
    const p = probes(2, 5, 1, () => 'target');
    expect(mergeFigure(p.features, DIM, p.labels, p.triggered, null)).toBeNull();
    expect(mergeFigure(p.features, DIM, p.labels, p.triggered, 1)).toBeNull(); // 10 clean probes: a clean probe has only 9 others
    expect(mergeFigure(p.features, DIM, p.labels, p.triggered, 1, 3)).not.toBeNull();
    const none = new Uint8Array(p.labels.length);
    expect(mergeFigure(p.features, DIM, p.labels, none, 1, 3)).toBeNull();
    expect(() => mergeFigure(p.features.subarray(1), DIM, p.labels, p.triggered, 1)).toThrow(/merge figure: expected 15 x 8 features and 15 flags/);
  });
});
