/**
 * `npm run bench:tsne`: the live t-SNE's cost at the page's default size, the engine's t-SNE (src/engine/tsne)
 * against tsne-js 1.0.3 (what the page used before) on the same data, perplexity and initial layout.
 *
 *   npm run bench:tsne -- [--rounds 3] [--drift 0.3] [--noise 0.05] [--js-cold 400] [--js-warm 150] [--no-js] [--seed 0]
 *
 * Data: 1,000 real 64-d penultimate features. 50 clean images per class of the demo test subset
 * (public/data/test-1k.mcld) and the same 500 images with the BadNets grid, through the shipped BadNets model
 * (models/badnets), as the page's probes (which skip the target class's copies: 950 points). On this model the
 * triggered features form one cluster of their own (engine/defense/merge.ts measures it).
 * One training epoch's worth of change, for the warm refresh: the first MCLDef epoch (lr 0.1) pulls the triggered
 * features toward their clean twins, so each triggered feature moves --drift (default 30%) of the way to the
 * feature of its clean image, and every feature, clean ones too, gets Gaussian noise of --noise (default 5%) of
 * the clean features' mean within-class standard deviation. (Real per-epoch features need a purification epoch,
 * about half a minute of training here; the drift is synthetic, the starting point is not.)
 *
 * Cold: from a seeded random layout to convergence (750 steps, the first 250 with early exaggeration, as openTSNE's
 * defaults; stopping early once KL improves less than 0.01% per 50 steps). Warm: one refresh of the drifted features from the cold layout, no
 * exaggeration (at most 200 steps). Both include distances and affinities, as a refresh in the worker does.
 * The engine runs --rounds times; each round's wall and CPU times are printed and the last lines give the medians
 * (the last line in wall-clock seconds; CPU seconds are closer to what an idle machine would take when others load it).
 * tsne-js runs once, with the page's former settings (learning rate 100, exaggeration 4 cold / 1 warm, 400 cold and
 * 150 warm iterations): it is slow (minutes). KL values are each implementation's own objective (tsne-js builds P
 * from unsquared distances over all points), so compare times, and KL only within a row.
 * Barnes-Hut: its repulsion pass (./barnesHut.ts, theta 0.5 and 0.8) is timed against the engine's whole exact
 * gradient on the converged layout, to show whether it would pay at this size.
 * The machine may be shared: the load average is printed with the figures.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import TSNE from 'tsne-js';
import { stampDataset } from '../../engine/attacks/poison';
import { batches, indicesByClass, subset, type Dataset } from '../../engine/data/dataset';
import { forward } from '../../engine/model/wrn';
import { createRng } from '../../engine/random';
import { jointProbabilities, squaredDistances } from '../../engine/tsne/affinities';
import { embed, randomLayout } from '../../engine/tsne/embed';
import { gradient } from '../../engine/tsne/optimize';
import { initNodeBackend } from '../../platform/node/backend';
import { attackFromName, loadDataArg } from '../../platform/node/data';
import { loadModel } from '../../platform/node/modelFiles';
import { intOption, numOption, parse } from '../args';
import { barnesHutRepulsion } from './barnesHut';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PERPLEXITY = 30;
const PER_CLASS = 50;

const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
/** Seconds of CPU this process used (user + system): on a shared machine, closer to the uncontended wall time. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Penultimate features [n, D] of `ds` (inference mode). */
async function featuresOf(model: tf.LayersModel, ds: Dataset): Promise<{ f: Float32Array; dim: number }> {
  const parts: Float32Array[] = [];
  let dim = 0;
  for (const b of batches(ds, 128)) {
    const t = tf.tidy(() => forward(model, b.x, false).features);
    tf.dispose([b.x, b.y]);
    dim = t.shape[1];
    parts.push((await t.data()) as Float32Array);
    t.dispose();
  }
  const f = new Float32Array(ds.n * dim);
  let o = 0;
  for (const p of parts) {
    f.set(p, o);
    o += p.length;
  }
  return { f, dim };
}

/** The 1,000 points: clean probes then their triggered copies, and the drifted copy after one epoch. */
async function benchData(seed: number, drift: number, noise: number) {
  const { model } = await loadModel(path.join(ROOT, 'models', 'badnets'));
  const test = await loadDataArg(path.join(ROOT, 'public', 'data', 'test-1k.mcld'));
  const rng = createRng(seed);
  const chosen: number[] = [];
  indicesByClass(test).forEach((members, c) => chosen.push(...Array.from(rng.fork(c).shuffle(members).slice(0, PER_CLASS))));
  const clean = subset(test, chosen);
  const stamped = stampDataset(clean, await attackFromName('badnets'));
  const a = await featuresOf(model, clean);
  const b = await featuresOf(model, stamped);
  model.dispose();
  const dim = a.dim;
  const m = clean.n;
  const n = 2 * m;
  const before = new Float32Array(n * dim);
  before.set(a.f);
  before.set(b.f, m * dim);
  // Mean within-class standard deviation of the clean features (over classes and dimensions).
  let spread = 0;
  let terms = 0;
  indicesByClass(clean).forEach((members) => {
    for (let d = 0; d < dim; d++) {
      let s = 0;
      let s2 = 0;
      for (const i of members) {
        s += a.f[i * dim + d];
        s2 += a.f[i * dim + d] ** 2;
      }
      spread += Math.sqrt(Math.max(0, s2 / members.length - (s / members.length) ** 2));
      terms++;
    }
  });
  spread /= terms;
  const noisy = rng.fork('drift');
  const after = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const q = i * dim + d;
      const twin = i >= m ? a.f[(i - m) * dim + d] : before[q];
      after[q] = before[q] + drift * (twin - before[q]) + noise * spread * noisy.normal();
    }
  }
  return { before, after, n, dim };
}

/** tsne-js from layout `y0` (null: keep its own random one); returns seconds, its own final KL and the layout. */
function runTsneJs(x: Float32Array, n: number, dim: number, y0: Float64Array, nIter: number, exaggeration: number) {
  const t0 = performance.now();
  const model = new TSNE({ dim: 2, perplexity: PERPLEXITY, earlyExaggeration: exaggeration, learningRate: 100, nIter, metric: 'euclidean' });
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(x.subarray(i * dim, (i + 1) * dim)));
  model.init({ data: rows, type: 'dense' });
  (model.outputEmbedding as { data: Float64Array }).data.set(y0);
  const [kl, iterations] = model.run();
  return { s: (performance.now() - t0) / 1000, kl, iterations, layout: Float64Array.from((model.outputEmbedding as { data: Float64Array }).data) };
}

/** RMS displacement between two layouts relative to the first one's RMS radius. */
function relativeShift(a: Float64Array, b: Float64Array): number {
  let r = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    r += a[i] ** 2;
    d += (b[i] - a[i]) ** 2;
  }
  return Math.sqrt(d / r);
}

async function main(): Promise<void> {
  const { values } = parse(process.argv.slice(2), {
    rounds: { type: 'string' },
    drift: { type: 'string' },
    noise: { type: 'string' },
    'js-cold': { type: 'string' },
    'js-warm': { type: 'string' },
    'no-js': { type: 'boolean' },
    seed: { type: 'string' },
  });
  const rounds = intOption(values.rounds, 'rounds', 3, 1, 20);
  const drift = numOption(values.drift, 'drift', 0.3, 0, 1);
  const noise = numOption(values.noise, 'noise', 0.05, 0, 10);
  const seed = intOption(values.seed, 'seed', 0, 0, 2 ** 31 - 1);
  const jsCold = intOption(values['js-cold'], 'js-cold', 400, 1);
  const jsWarm = intOption(values['js-warm'], 'js-warm', 150, 1);

  await initNodeBackend('wasm');
  const { before, after, n, dim } = await benchData(seed, drift, noise);
  console.log(`data: ${n} points x ${dim} features (models/badnets on 50 clean + 50 triggered test-1k images per class); epoch drift ${drift}, noise ${noise}; perplexity ${PERPLEXITY}`);
  console.log(`cpus ${os.cpus().length}, load average ${load()}`);

  const cold: number[] = [];
  const warm: number[] = [];
  const coldCpu: number[] = [];
  const warmCpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    let c0 = cpu();
    const c = embed({ features: before, n, dim, perplexity: PERPLEXITY, seed });
    cold.push((performance.now() - t0) / 1000);
    coldCpu.push(cpu() - c0);
    t0 = performance.now();
    c0 = cpu();
    const w = embed({ features: after, n, dim, perplexity: PERPLEXITY, seed, previous: c.embedding });
    warm.push((performance.now() - t0) / 1000);
    warmCpu.push(cpu() - c0);
    // Quality checks, not timed: the cold run continued to 1,000 steps, and a cold run on the drifted features.
    const longer = r === 0 ? embed({ features: before, n, dim, perplexity: PERPLEXITY, seed, iterations: 1000 }) : null;
    const ref = r === 0 ? embed({ features: after, n, dim, perplexity: PERPLEXITY, seed: seed + 1 }) : null;
    console.log(
      `round ${r + 1}: cold ${cold[r].toFixed(2)} s (CPU ${coldCpu[r].toFixed(2)} s; ${c.iterations} steps, KL ${c.kl.toFixed(4)}${longer ? `; 1,000 steps: KL ${longer.kl.toFixed(4)}` : ''}), warm ${warm[r].toFixed(2)} s (CPU ${warmCpu[r].toFixed(2)} s; ${w.iterations} steps, KL ${w.kl.toFixed(4)}` +
        `${ref ? `; a cold run on the same features: KL ${ref.kl.toFixed(4)}` : ''}; points moved ${(100 * relativeShift(c.embedding, w.embedding)).toFixed(1)}% of the layout radius); load ${load()}`,
    );
  }

  // Would Barnes-Hut pay here? Its repulsion pass alone against the engine's whole exact gradient, interleaved on
  // the converged layout: best wall time of 20 alternations of 5 calls each, and mean CPU time per call.
  {
    const P = jointProbabilities(squaredDistances(before, n, dim), n, PERPLEXITY);
    const y = embed({ features: before, n, dim, perplexity: PERPLEXITY, seed }).embedding;
    const grad = new Float64Array(2 * n);
    const rep = new Float64Array(2 * n);
    const zExact = gradient(P, y, 1, grad, rep);
    for (const theta of [0.5, 0.8]) {
      let exact = Infinity;
      let bh = Infinity;
      let z = 0;
      let exactCpu = 0;
      let bhCpu = 0;
      for (let r = 0; r < 20; r++) {
        let t0 = performance.now();
        let c0 = cpu();
        for (let k = 0; k < 5; k++) gradient(P, y, 1, grad, rep);
        exact = Math.min(exact, (performance.now() - t0) / 5);
        exactCpu += cpu() - c0;
        t0 = performance.now();
        c0 = cpu();
        for (let k = 0; k < 5; k++) z = barnesHutRepulsion(y, n, theta, rep);
        bh = Math.min(bh, (performance.now() - t0) / 5);
        bhCpu += cpu() - c0;
      }
      console.log(
        `Barnes-Hut theta ${theta}: repulsion alone ${bh.toFixed(2)} ms per step (CPU ${(bhCpu * 10).toFixed(2)} ms; Z off by ${(100 * Math.abs(z / zExact - 1)).toFixed(2)}%), ` +
          `exact gradient ${exact.toFixed(2)} ms (CPU ${(exactCpu * 10).toFixed(2)} ms); load ${load()}`,
      );
    }
  }

  if (!values['no-js']) {
    const y0 = randomLayout(n, seed);
    const jc = runTsneJs(before, n, dim, y0, jsCold, 4);
    const jw = runTsneJs(after, n, dim, jc.layout, jsWarm, 1);
    console.log(`tsne-js 1.0.3: cold ${jc.s.toFixed(1)} s (${jc.iterations} iterations, its KL ${jc.kl.toFixed(4)}), warm ${jw.s.toFixed(1)} s (${jw.iterations} iterations, its KL ${jw.kl.toFixed(4)}); load ${load()}`);
    console.log(`tsne-js ${n} points cold ${jc.s.toFixed(1)} s, warm ${jw.s.toFixed(1)} s`);
    console.log(`tsne-js / engine t-SNE (median): cold ${(jc.s / median(cold)).toFixed(0)}x, warm ${(jw.s / median(warm)).toFixed(0)}x`);
  }
  console.log(`engine t-SNE CPU time (median): cold ${median(coldCpu).toFixed(2)} s, warm ${median(warmCpu).toFixed(2)} s; load ${load()}`);
  console.log(`tsne ${n} points cold ${median(cold).toFixed(2)} s, warm ${median(warm).toFixed(2)} s`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
