/**
 * `npm run bench:train -- --backend webgpu`: WRN-16-1 on WebGPU in Node (Dawn, the `webgpu` package), with the
 * project's WGSL kernels (src/engine/kernels/webgpu) and with tfjs-backend-webgpu's stock kernels, and, where
 * PyTorch sees a CUDA GPU, PyTorch CUDA in the same run (tools/bench/torch_train_bench.py --device cuda):
 *
 *   npm run bench:train -- --backend webgpu [--batches 64,256] [--steps 10] [--warmup 3] [--no-stock] [--no-torch]
 *
 * For each batch: forward images/s (eval mode); training images/s and ms per step (train-mode forward, softmax
 * cross-entropy, backward, the engine's SGD: momentum 0.9, weight decay 1e-4); a trigger-inversion step's time
 * (stage 1: the model in eval mode, gradients w.r.t. mask and pattern, projected Adam); GPU dispatches per step
 * (calls of the backend's runWebGPUProgram plus the project's multi-output programs, marked *: one compute
 * dispatch each); kernel calls per training step (tf.profile); the tensor count across steps. Every step ends
 * with `await data()` on its result, so a step's time includes the GPU finishing it. Where PyTorch CUDA ran it
 * prints `batch B: webgpu/pytorch-cuda training ratio R` (and forward, inversion) per batch.
 * On SwiftShader (no GPU) the figures only show that it runs: use small batches (--batches 2).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { inversionObjective } from '../../engine/defense/invert';
import { Adam, gradientsOf, SgdMomentum, trainableVariables } from '../../engine/defense/optim';
import { observeMultiOutputDispatches } from '../../engine/kernels/webgpu/multiOutput';
import { buildWrn, forward, WRN_16_1 } from '../../engine/model/wrn';
import { initNodeBackend } from '../../platform/node/backend';

interface Options {
  batches: number[];
  steps: number;
  warmup: number;
  stock: boolean;
  torch: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { batches: [64, 256], steps: 10, warmup: 3, stock: true, torch: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs positive integers, got "${v}"`);
      return n;
    };
    if (a === '--backend') i++; // read by trainBench.ts
    else if (a === '--batches' || a === '--batch') o.batches = (argv[++i] ?? '').split(',').map(num);
    else if (a === '--steps') o.steps = num(argv[++i]);
    else if (a === '--warmup') o.warmup = num(argv[++i]);
    else if (a === '--no-stock') o.stock = false;
    else if (a === '--no-torch') o.torch = false;
    else throw new Error(`unknown option ${a} for --backend webgpu (see the comment at the top of webgpuBench.ts)`);
  }
  return o;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3));

interface Program {
  shaderKey: string;
  constructor: { name: string };
}

/** Counts the backend's program dispatches while `f` runs, by program (the project's by their key prefix). */
async function countDispatches(f: () => Promise<unknown>): Promise<Map<string, number>> {
  const b = tf.backend() as unknown as { runWebGPUProgram: (p: Program, ...a: unknown[]) => unknown };
  const orig = b.runWebGPUProgram;
  const byProgram = new Map<string, number>();
  const count = (key: string) => byProgram.set(key, (byProgram.get(key) ?? 0) + 1);
  b.runWebGPUProgram = function (this: unknown, p: Program, ...a: unknown[]) {
    count(p.shaderKey.startsWith('mcl_') ? p.shaderKey.split('_').slice(0, 2).join('_') : p.constructor.name);
    return orig.call(this, p, ...a);
  };
  // The project's multi-output programs dispatch without runWebGPUProgram (kernels/webgpu/multiOutput.ts).
  const stop = observeMultiOutputDispatches((key) => count(key.split('_').slice(0, 2).join('_') + '*'));
  try {
    await f();
  } finally {
    b.runWebGPUProgram = orig;
    stop();
  }
  return byProgram;
}

interface Result {
  batch: number;
  forward: number;
  train: number;
  stepMs: number;
  dispatches: number;
  byProgram: Map<string, number>;
  kernels: number;
  leaked: number;
  /** One trigger-inversion step: median ms and dispatches. */
  invertMs: number;
  invertDispatches: number;
}

async function measure(batch: number, o: Options): Promise<Result> {
  const model = buildWrn(WRN_16_1, 0);
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D; // [B, 32, 32, 3]
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D, 10); // [B, 10]
  const vars = trainableVariables(model);
  const opt = new SgdMomentum(vars, 0.9, 1e-4); // the engine's optimizer, as purification trains (and PyTorch's bench)
  const mask = tf.variable(tf.randomUniform([32, 32], 0, 1, 'float32', 3)); // [H, W]
  const pattern = tf.variable(tf.randomUniform([32, 32, 3], 0, 1, 'float32', 4)); // [H, W, C]
  const adam = new Adam([mask, pattern], 0.1);
  const fwd = async () => {
    const out = tf.tidy(() => forward(model, x, false).logits);
    await out.data();
    out.dispose();
  };
  const step = async () => {
    const { value, grads } = gradientsOf(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, true).logits) as tf.Scalar, vars);
    opt.step(grads, 0.01);
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
    await value.data();
    value.dispose();
  };
  // MCLDef's stage 1, as invertTrigger steps: the frozen model in eval mode, gradients w.r.t. mask and pattern.
  const invert = async () => {
    const { value, grads } = tf.variableGrads(() => inversionObjective(model, x, mask, pattern, 0, 0.01).loss, [mask, pattern]);
    adam.step([grads[mask.name], grads[pattern.name]], [0, 1]);
    tf.dispose(Object.values(grads));
    await value.data();
    value.dispose();
  };
  const time = async (f: () => Promise<void>, warmup: number, steps: number) => {
    for (let i = 0; i < warmup; i++) await f();
    const ms: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await f();
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  const f = await time(fwd, o.warmup, o.steps);
  const inv = await time(invert, o.warmup, o.steps);
  const invertDispatches = [...(await countDispatches(invert)).values()].reduce((a, v) => a + v, 0);
  tf.dispose([mask, pattern]);
  adam.dispose();
  await time(step, o.warmup, 0); // warm-up only; the first step creates the momentum buffers
  const n0 = tf.memory().numTensors;
  const t = await time(step, 0, o.steps);
  const leaked = tf.memory().numTensors - n0;
  const byProgram = await countDispatches(step);
  const dispatches = [...byProgram.values()].reduce((a, v) => a + v, 0);
  const prof = await tf.profile(step);
  const kernels = prof.kernels.filter((k) => !k.name.endsWith('__op')).length;
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  const invertMs = median(inv);
  return { batch, forward: (batch * 1000) / median(f), train: (batch * 1000) / median(t), stepMs: median(t), dispatches, byProgram, kernels, leaked, invertMs, invertDispatches };
}

/** Pythons tried for PyTorch, in order: the one on PATH, then Debian's (python3-torch installs there). */
const PYTHONS = ['python3', '/usr/bin/python3'];

/** The first python that imports torch and sees CUDA, or why there is none. */
function cudaPython(): { py: string } | string {
  let why = `none of ${PYTHONS.join(', ')} can import torch`;
  for (const py of PYTHONS) {
    const probe = spawnSync(py, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)'], { encoding: 'utf8' });
    if (probe.status === 0) return { py };
    if (probe.status === 3) why = `torch.cuda.is_available() is False (${py})`;
  }
  return `skipped: ${why}`;
}

/** PyTorch CUDA at `batch` with python `py`, or why it did not run. */
function torchCuda(py: string, batch: number, o: Options): { forward: number; train: number; invert: number; device: string; torch: string } | string {
  const script = path.join(process.cwd(), 'tools/bench/torch_train_bench.py');
  const r = spawnSync(py, [script, '--device', 'cuda', '--batch', String(batch), '--warmup', String(Math.max(5, o.warmup)), '--steps', String(Math.max(20, o.steps))], { encoding: 'utf8' });
  if (r.status !== 0) return `failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  return { forward: j.forward_img_s, train: j.train_img_s, invert: j.invert_img_s, device: j.device, torch: j.torch };
}

const line = (name: string, r: Result) =>
  `| ${name} | ${r.batch} | ${fmt(r.forward)} | ${fmt(r.train)} | ${r.stepMs.toFixed(1)} | ${r.dispatches} | ${r.kernels} | ${r.leaked >= 0 ? '+' : ''}${r.leaked} |`;

/** Runs the WebGPU bench (argv as given to bench:train). */
export async function runWebGPUBench(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const report = await initNodeBackend('webgpu');
  const adapter = report.detail.split(',')[0];
  console.log(`WRN-16-1 on WebGPU (Node ${process.version}, Dawn via the webgpu package; adapter ${adapter}), ${new Date().toISOString()}`);
  if (/swiftshader/i.test(adapter)) console.log('SwiftShader is Vulkan in software on the CPU: these figures show the path runs, not GPU speed.');
  console.log(`median of ${o.steps} steps after ${o.warmup} warm-up; dispatches and kernel calls of one training step.\n`);
  const ours: Result[] = [];
  const stock: Result[] = [];
  for (const b of o.batches) {
    await initNodeBackend('webgpu', { webgpuKernels: true });
    ours.push(await measure(b, o));
    console.error(`  batch ${b}, project kernels: train ${fmt(ours[ours.length - 1].train)} img/s`);
    if (o.stock) {
      await initNodeBackend('webgpu', { webgpuKernels: false });
      stock.push(await measure(b, o));
      console.error(`  batch ${b}, stock kernels: train ${fmt(stock[stock.length - 1].train)} img/s`);
    }
  }
  await initNodeBackend('webgpu', { webgpuKernels: true });
  const cuda = o.torch ? cudaPython() : 'skipped: --no-torch';
  const torch = o.batches.map((b) => (typeof cuda === 'string' ? cuda : torchCuda(cuda.py, b, o)));

  console.log('| run | batch | forward img/s | train img/s | ms/step | dispatches/step | kernel calls/step | tensors after steps |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (let i = 0; i < o.batches.length; i++) {
    console.log(line('webgpu, project kernels', ours[i]));
    if (stock[i]) console.log(line('webgpu, stock tfjs kernels', stock[i]));
    const t = torch[i];
    if (typeof t !== 'string') console.log(`| PyTorch ${t.torch} CUDA (${t.device}) | ${o.batches[i]} | ${fmt(t.forward)} | ${fmt(t.train)} | ${((o.batches[i] * 1000) / t.train).toFixed(2)} | - | - | - |`);
  }
  console.log('\ntrigger inversion (stage 1) steps, median ms (images/s), dispatches per step:');
  for (let i = 0; i < o.batches.length; i++) {
    const r = ours[i];
    const t = torch[i];
    const parts = [`webgpu, project kernels ${r.invertMs.toFixed(1)} ms (${fmt((r.batch * 1000) / r.invertMs)} img/s), ${r.invertDispatches} dispatches`];
    if (stock[i]) parts.push(`stock ${stock[i].invertMs.toFixed(1)} ms, ${stock[i].invertDispatches} dispatches`);
    if (typeof t !== 'string') parts.push(`PyTorch CUDA ${((r.batch * 1000) / t.invert).toFixed(2)} ms`);
    console.log(`  batch ${r.batch}: ${parts.join('; ')}`);
  }
  const top = (r: Result) => [...r.byProgram].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`\ndispatches of one training step by program (batch ${o.batches[0]}; mcl_* are the project's):`);
  console.log(`  project kernels: ${top(ours[0])}`);
  if (stock[0]) console.log(`  stock kernels:   ${top(stock[0])}`);
  console.log('');
  for (let i = 0; i < o.batches.length; i++) {
    const t = torch[i];
    if (stock[i]) console.log(`batch ${o.batches[i]}: project/stock kernels training ratio ${(ours[i].train / stock[i].train).toFixed(2)}, forward ${(ours[i].forward / stock[i].forward).toFixed(2)}`);
    if (typeof t === 'string') console.log(`batch ${o.batches[i]}: PyTorch CUDA ${t}`);
    else {
      console.log(`batch ${o.batches[i]}: webgpu/pytorch-cuda training ratio ${(ours[i].train / t.train).toFixed(3)}`);
      console.log(`batch ${o.batches[i]}: webgpu/pytorch-cuda forward ratio ${(ours[i].forward / t.forward).toFixed(3)}`);
      console.log(`batch ${o.batches[i]}: webgpu/pytorch-cuda inversion ratio ${((o.batches[i] * 1000) / ours[i].invertMs / t.invert).toFixed(3)}`);
    }
  }
}
