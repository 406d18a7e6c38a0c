/**
 * `npm run bench:train`: WRN-16-1 forward and training throughput of the engine on the WASM backend (with the
 * project's training kernels, src/engine/kernels) and on the plain CPU backend, against PyTorch on the same CPU
 * with the same thread count, in one run so the ratios share the machine's conditions.
 *
 *   npm run bench:train -- [--batch 64] [--steps 8] [--warmup 3] [--rounds 2] [--cpu-batch 4] [--no-cpu] [--no-torch] [--no-relaxed]
 *   npm run bench:train -- --backend webgpu [--batches 64,256] ...   WebGPU against PyTorch CUDA (webgpuBench.ts)
 *
 * The wasm engine is measured twice: in this process (Node 20's V8 has no relaxed SIMD by default) and in a child
 * Node started with --experimental-wasm-relaxed-simd, which lets the project's SIMD kernels use fused
 * multiply-add as Chrome 114+ and Firefox 120+ do by default (the browser app's WASM fallback).
 * Forward: eval mode (BatchNorm on running statistics). Training step: train-mode forward (BatchNorm on batch
 * statistics), softmax cross-entropy, backward, SGD momentum 0.9 (tf.train.momentum; PyTorch the same without
 * weight decay). Rates use the median step after warm-up. The CPU backend trains at well under 1 image/s, so it
 * runs one step at --cpu-batch (its time per image hardly depends on the batch).
 * The machine may be shared (other training jobs): the load average is printed, the wasm and PyTorch runs are
 * repeated in --rounds back-to-back rounds and each keeps its best round; compare ratios within a run.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { relaxedSimdSupported } from '../../engine/kernels/wasmHeap';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../../engine/kernels/wasmTraining';
import { buildWrn, forward, WRN_16_1 } from '../../engine/model/wrn';
import { initNodeBackend } from '../../platform/node/backend';
import { runWebGPUBench } from './webgpuBench';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PYTHON = '/usr/bin/python3';

interface Options {
  batch: number;
  steps: number;
  warmup: number;
  cpuBatch: number;
  cpu: boolean;
  torch: boolean;
  relaxed: boolean;
  rounds: number;
  /** internal: measure only the wasm engine and print one JSON line (the relaxed-SIMD child process) */
  child: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { batch: 64, steps: 8, warmup: 3, cpuBatch: 4, cpu: true, torch: true, relaxed: true, rounds: 2, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--batch') o.batch = num();
    else if (a === '--steps') o.steps = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--cpu-batch') o.cpuBatch = num();
    else if (a === '--rounds') o.rounds = num();
    else if (a === '--no-cpu') o.cpu = false;
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--no-relaxed') o.relaxed = false;
    else if (a === '--child-wasm') o.child = true;
    else throw new Error(`unknown option ${a} (see the comment at the top of trainBench.ts)`);
  }
  return o;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');

/** One model and batch on the active backend, with a forward and a training-step closure. */
function setup(batch: number, seed = 0) {
  const model = buildWrn(WRN_16_1, seed);
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', seed + 1) as tf.Tensor4D; // [B, 32, 32, 3]
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', seed + 2) as tf.Tensor1D, 10); // [B, 10]
  const opt = tf.train.momentum(0.01, 0.9);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const fwd = () =>
    tf.tidy(() => {
      forward(model, x, false).logits.dataSync();
    });
  const step = () =>
    tf.tidy(() => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, true).logits) as tf.Scalar, true, vars);
      loss?.dataSync();
    });
  const dispose = () => {
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  };
  return { fwd, step, dispose };
}

/** Milliseconds of each of `steps` calls after `warmup` untimed ones. */
function timeCalls(f: () => void, warmup: number, steps: number): number[] {
  for (let i = 0; i < warmup; i++) f();
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return ms;
}

interface Row {
  name: string;
  threads: number;
  batch: number;
  forward?: number; // images/s
  train?: number;
  note?: string;
}

/** Per-kernel milliseconds of one training step (tf.profile; scopes like fusedConv2d__op wrap kernels and are skipped). */
async function kernelBreakdown(step: () => void): Promise<Array<{ name: string; ms: number; calls: number }>> {
  const wall0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - wall0;
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    if (k.name.endsWith('__op')) continue;
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(await k.kernelTimeMs);
    e.calls++;
    byName.set(k.name, e);
  }
  const rows = [...byName].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
  const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
  rows.push({ name: '(outside kernels: JS, tape, optimizer bookkeeping)', ms: Math.max(0, wall - kernelMs), calls: 0 });
  return rows;
}

function torchBench(threads: number, o: Options): { forward: number; train: number; version: string } | string {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `skipped: ${PYTHON} cannot import torch`;
  const script = path.join(ROOT, 'tools/bench/torch_train_bench.py');
  const r = spawnSync(PYTHON, [script, '--threads', String(threads), '--batch', String(o.batch), '--warmup', String(o.warmup), '--steps', String(o.steps)], {
    encoding: 'utf8',
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '67108864' }, // docs/design.md: a fair PyTorch CPU baseline needs it
    cwd: ROOT,
  });
  if (r.status !== 0) return `failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  return { forward: j.forward_img_s, train: j.train_img_s, version: j.torch };
}

/** The wasm engine's forward and training rates; with `verbose`, the step times and the per-kernel breakdown printed. */
async function measureWasm(o: Options, verbose: boolean): Promise<{ row: Row }> {
  registerWasmTrainingKernels();
  const wasm = await initNodeBackend('wasm');
  const threads = (tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } }).wasm.tfjs.getThreadsCount();
  const s = setup(o.batch);
  const f = timeCalls(s.fwd, 2, o.steps);
  const t = timeCalls(s.step, o.warmup, 1); // warm-up, and the first step creates the optimizer's slots
  const n0 = tf.memory().numTensors;
  t.push(...timeCalls(s.step, 0, o.steps - 1));
  const leaked = tf.memory().numTensors - n0;
  const fma = relaxedSimdSupported() ? ', relaxed-SIMD FMA' : '';
  const row: Row = { name: 'engine wasm', threads, batch: o.batch, forward: (o.batch * 1000) / median(f), train: (o.batch * 1000) / median(t), note: `${wasm.detail}${fma}` };
  if (verbose) {
    console.log(`engine wasm: forward ${f.map((v) => v.toFixed(0)).join(' ')} ms, train ${t.map((v) => v.toFixed(0)).join(' ')} ms; tensors ${leaked >= 0 ? '+' : ''}${leaked} over ${o.steps - 1} steps (load ${load()})`);
    const breakdown = await kernelBreakdown(s.step);
    const total = breakdown.reduce((a, r) => a + r.ms, 0);
    console.log(`\nWhere one wasm training step goes (tf.profile, ${total.toFixed(0)} ms in all; profiling adds a little; * = project kernel or fast path):`);
    const ours = new Set<string>(WASM_TRAINING_KERNELS);
    for (const r of breakdown.slice(0, 16).concat(breakdown.length > 16 ? [breakdown[breakdown.length - 1]] : [])) {
      const name = `${r.name}${ours.has(r.name) ? ' *' : ''}`;
      console.log(`  ${name.padEnd(52)} ${r.ms.toFixed(1).padStart(8)} ms ${((100 * r.ms) / total).toFixed(1).padStart(5)}%${r.calls ? `  ${r.calls} calls` : ''}`);
    }
    console.log('');
  }
  s.dispose();
  return { row };
}

/** tfjs-backend-wasm as shipped, for reference: forward only, since training stops at the missing kernel. */
function measureStockWasm(o: Options, threads: number): Row {
  unregisterWasmTrainingKernels();
  try {
    const s = setup(o.batch);
    const f = timeCalls(s.fwd, 2, o.steps);
    let note = 'tfjs-backend-wasm 4.22 kernels only';
    try {
      s.step();
      note += '; training ran';
    } catch (e) {
      note += `; training fails: ${e instanceof Error ? e.message : String(e)}`;
    }
    s.dispose();
    return { name: 'engine wasm, stock kernels', threads, batch: o.batch, forward: (o.batch * 1000) / median(f), note };
  } finally {
    registerWasmTrainingKernels();
  }
}

const fmt = (v: number | undefined) => (v == null ? '-' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3));

/** Keeps, per run name and thread count, the best forward and the best training rate over the rounds. */
function keepBest(best: Map<string, Row>, r: Row): void {
  const key = `${r.name}/${r.threads}`;
  const old = best.get(key);
  if (old == null) {
    best.set(key, { ...r });
    return;
  }
  const max = (a?: number, b?: number) => (a == null ? b : b == null ? a : Math.max(a, b));
  best.set(key, { ...old, forward: max(old.forward, r.forward), train: max(old.train, r.train), note: old.note ?? r.note });
}

async function main(): Promise<void> {
  const o = parseOptions(argv);
  if (o.child) {
    console.log(JSON.stringify((await measureWasm(o, false)).row));
    return;
  }
  console.log(`WRN-16-1 throughput, batch ${o.batch}: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load()}`);
  console.log('The machine may be shared with other jobs: absolute numbers move with the load. Each round measures every');
  console.log(`run back to back; the table keeps each run's best round (${o.rounds} rounds), so compare ratios, not absolute numbers.\n`);
  const best = new Map<string, Row>();
  let threads = 1;
  for (let round = 0; round < o.rounds; round++) {
    console.log(`round ${round + 1}/${o.rounds}:`);
    // Engine on wasm with the project's kernels (the per-kernel profile printed in round 1).
    const w = (await measureWasm(o, round === 0)).row;
    threads = w.threads;
    keepBest(best, w);
    console.log(`  engine wasm: forward ${fmt(w.forward)} img/s, train ${fmt(w.train)} img/s (load ${load()})`);
    keepBest(best, measureStockWasm(o, threads));
    if (o.relaxed && !relaxedSimdSupported()) {
      const args = ['--experimental-wasm-relaxed-simd', ...process.execArgv, process.argv[1], ...process.argv.slice(2), '--child-wasm'];
      const child = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
      const line = child.stdout?.trim().split('\n').pop() ?? '';
      const name = 'engine wasm, relaxed SIMD';
      if (child.status === 0 && line.startsWith('{')) {
        const r = { ...(JSON.parse(line) as Row), name };
        keepBest(best, r);
        console.log(`  ${name} (child process): forward ${fmt(r.forward)} img/s, train ${fmt(r.train)} img/s (load ${load()})`);
      } else keepBest(best, { name, threads, batch: o.batch, note: `child failed: ${(child.stderr || line).trim().split('\n').pop()}` });
    }
    // PyTorch, same thread count as the engine, and at 2 threads as docs/design.md's reference when that differs.
    if (o.torch) {
      for (const n of [...new Set([threads, 2])]) {
        const r = torchBench(n, o);
        if (typeof r === 'string') keepBest(best, { name: 'PyTorch CPU', threads: n, batch: o.batch, note: r });
        else keepBest(best, { name: 'PyTorch CPU', threads: n, batch: o.batch, forward: r.forward, train: r.train, note: `torch ${r.version}` });
        console.log(`  PyTorch ${n} thread(s): ${typeof r === 'string' ? r : `forward ${fmt(r.forward)} img/s, train ${fmt(r.train)} img/s`} (load ${load()})`);
      }
    }
  }

  // Engine on the plain CPU backend, once: one forward at the full batch, one training step at --cpu-batch.
  if (o.cpu) {
    await initNodeBackend('cpu');
    const s = setup(o.batch);
    const f = timeCalls(s.fwd, 0, 1);
    s.dispose();
    const c = setup(o.cpuBatch);
    const t = timeCalls(c.step, 0, 1);
    c.dispose();
    keepBest(best, { name: 'engine cpu', threads: 1, batch: o.batch, forward: (o.batch * 1000) / f[0], train: (o.cpuBatch * 1000) / t[0], note: `train: 1 step at batch ${o.cpuBatch}, no warm-up` });
    console.log(`engine cpu done (load ${load()})`);
  }
  const rows = [...best.values()];
  const t1 = best.get(`PyTorch CPU/${threads}`);
  const t2 = best.get('PyTorch CPU/2');
  if (t1 && t2 && t1 !== t2 && (t2.train ?? 0) < (t1.train ?? 0)) {
    t2.note = `${t2.note ?? ''}; slower than ${threads} thread: with the other core busy, OpenMP threads wait on each other`;
  }

  console.log('\n| run | threads | batch | forward img/s | train img/s | note |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.threads} | ${r.batch} | ${fmt(r.forward)} | ${fmt(r.train)} | ${r.note ?? ''} |`);
  const ratio = (a?: number, b?: number) => (a != null && b != null ? (a / b).toFixed(3) : '-');
  console.log('');
  const stock = rows.find((r) => r.name === 'engine wasm, stock kernels');
  for (const w of rows.filter((r) => r.name.startsWith('engine wasm') && r.train != null)) {
    for (const r of rows.filter((q) => !q.name.startsWith('engine wasm'))) {
      console.log(`${w.name} / ${r.name} (${r.threads} thr): forward ${ratio(w.forward, r.forward)}x, train ${ratio(w.train, r.train)}x`);
    }
    if (stock) console.log(`${w.name} / ${stock.name}: forward ${ratio(w.forward, stock.forward)}x (training: stock fails)`);
  }
  console.log(`\nwasm threads: ${threads}. tfjs-backend-wasm disables its threaded build in Node, and its thread pool is capped at`);
  console.log('hardwareConcurrency / 2 anyway (1 on a 2-core machine); see src/engine/kernels/wasmTraining.ts.');
  console.log(`load average at the end: ${load()}`);
}

/** `--backend webgpu` runs the WebGPU bench; `--backend wasm` (or none) this file's CPU bench. */
function chosenBackend(argv: string[]): string {
  const i = argv.indexOf('--backend');
  if (i < 0) return 'wasm';
  const b = argv[i + 1];
  if (b !== 'webgpu' && b !== 'wasm') throw new Error(`--backend must be webgpu or wasm, got "${b ?? ''}"`);
  argv.splice(i, 2);
  return b;
}

const argv = process.argv.slice(2);
(chosenBackend(argv) === 'webgpu' ? runWebGPUBench(argv) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
