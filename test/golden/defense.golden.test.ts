/**
 * Golden test: the defense losses and their gradients match PyTorch.
 * Fixture: test/golden/make_defense_fixtures.py (PyTorch 1.13; WRN-10-1 on 16x16 inputs, batch 4).
 * - Trigger inversion objective CE(f((1-m)x + m p), t) + lambda |m|_1 (eval mode) and its gradients w.r.t. m, p.
 * - MCL contrastive loss with f_p = a copy of f_b in training mode, and its gradients w.r.t. f_p's parameters, through
 *   mclStageLoss: the stage loss training runs (frozen-model features prepared outside the tape, as trainStage does);
 *   and f_p's BatchNorm running statistics after that train-mode forward.
 * On cpu, wasm and (where an adapter exists) webgpu. Tolerance: 1e-4 relative (max |diff| / max |reference| per tensor). The max differences are printed.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { inversionObjective, TriggerTensors } from '../../src/engine/defense/invert';
import { mclStageLoss } from '../../src/engine/defense/mcl';
import { gradientsOf, trainableVariables } from '../../src/engine/defense/optim';
import { cloneModel } from '../../src/engine/defense/run';
import { loadTorchStateDict, inferWrnConfig, wrnTorchKeys } from '../../src/engine/model/torchWeights';
import { buildWrn } from '../../src/engine/model/wrn';
import { registerWasmTrainingKernels } from '../../src/engine/kernels/wasmTraining';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadFixture, maxAbsDiff, nchwToNhwc } from '../helpers/fixtures';

const TOL = 1e-4;
const { sd, t, metadata } = loadFixture('defense.safetensors');
const size = Number(metadata.size);
const get = (k: string) => {
  const v = t.get(k);
  if (!v) throw new Error(`fixture lacks ${k}`);
  return v.data as Float32Array;
};
const scalar = (k: string) => get(k)[0];

/** Relative max difference: max |a - b| / max |b| (b the reference). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; rel: number } {
  const abs = maxAbsDiff(a, b);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return { abs, rel: abs / Math.max(scale, 1e-30) };
}

/** PyTorch layout -> TF.js layout of a gradient: conv [O, I, kh, kw] -> [kh, kw, I, O] (in JS: webgpu reads only asynchronously). */
function torchToTf(data: Float32Array, shape: number[]): Float32Array {
  if (shape.length !== 4) return data;
  const [O, I, H, W] = shape;
  const out = new Float32Array(data.length);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      for (let k = 0; k < H * W; k++) out[(k * I + i) * O + o] = data[(o * I + i) * H * W + k];
    }
  }
  return out;
}

/** The TF.js variable holding PyTorch parameter `key` in a WRN built by model/wrn.ts. */
function variableFor(model: tf.LayersModel, key: string): tf.Variable {
  const prefix = key.slice(0, key.lastIndexOf('.'));
  const suffix = key.slice(key.lastIndexOf('.') + 1);
  const cfg = inferWrnConfig(sd);
  for (const [layerName, info] of wrnTorchKeys(cfg)) {
    if (info.prefix !== prefix) continue;
    const index = info.kind === 'bn' ? (suffix === 'weight' ? 0 : 1) : suffix === 'weight' ? 0 : 1;
    return model.getLayer(layerName).trainableWeights[index].read() as tf.Variable;
  }
  throw new Error(`no layer for ${key}`);
}

function loadModel(): tf.LayersModel {
  const cfg = { ...inferWrnConfig(sd), inputShape: [size, size, 3] as [number, number, number] };
  const model = buildWrn(cfg, 0);
  loadTorchStateDict(model, cfg, sd);
  return model;
}

const report: string[] = [];
afterAll(() => console.log(report.join('\n')));

// WebGPU too where an adapter exists (SwiftShader in CI): the project's WGSL kernels against PyTorch directly.
const webgpu = await initNodeBackend('webgpu').then(
  () => true,
  () => false,
);
await tf.setBackend('cpu');

describe.each(webgpu ? (['cpu', 'wasm', 'webgpu'] as const) : (['cpu', 'wasm'] as const))('defense losses vs PyTorch on %s', (backend) => {
  it('inversion objective and its gradients w.r.t. mask and pattern', async () => {
    if (backend === 'wasm') registerWasmTrainingKernels();
    await initNodeBackend(backend);
    const model = loadModel();
    const before = tf.memory().numTensors;
    const input = t.get('input')!;
    const x = tf.tensor4d(nchwToNhwc(input.data as Float32Array, input.shape), [input.shape[0], size, size, 3]);
    const mask = tf.tidy(() => tf.variable(tf.tensor2d(get('mask'), [size, size])));
    const pattern = tf.tidy(() => tf.variable(tf.tensor3d(nchwToNhwc(get('pattern'), [1, 3, size, size]), [size, size, 3])));
    const target = scalar('target');
    const lambda = scalar('inv_lambda');
    const parts = tf.tidy(() => {
      const o = inversionObjective(model, x, mask, pattern, target, lambda);
      return tf.stack([o.loss, o.ce, o.maskL1]);
    });
    const [loss, ce, l1] = await parts.data();
    const { value, grads } = gradientsOf(() => inversionObjective(model, x, mask, pattern, target, lambda).loss, [mask, pattern]);
    const gMask = relDiff(await grads[0]!.data(), get('inv_grad_mask'));
    const gPattern = relDiff(await grads[1]!.data(), nchwToNhwc(get('inv_grad_pattern'), [1, 3, size, size]));
    const dLoss = relDiff([loss, ce, l1, (await value.data())[0]], [scalar('inv_loss'), scalar('inv_ce'), scalar('inv_l1'), scalar('inv_loss')]);
    tf.dispose([x, mask, pattern, parts, value, ...grads.filter((g) => g !== null)]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    report.push(
      `[golden ${backend}] inversion: loss/ce/L1 max rel diff ${dLoss.rel.toExponential(2)}; ` +
        `grad mask max |diff| ${gMask.abs.toExponential(2)} (rel ${gMask.rel.toExponential(2)}), ` +
        `grad pattern max |diff| ${gPattern.abs.toExponential(2)} (rel ${gPattern.rel.toExponential(2)}) (tolerance ${TOL} relative)`,
    );
    expect(dLoss.rel).toBeLessThanOrEqual(TOL);
    expect(gMask.rel).toBeLessThanOrEqual(TOL);
    expect(gPattern.rel).toBeLessThanOrEqual(TOL);
  });

  it('MCL contrastive loss and its gradients w.r.t. the purified model', async () => {
    await initNodeBackend(backend);
    const fb = loadModel();
    const fp = await cloneModel(fb);
    const before = tf.memory().numTensors;
    const input = t.get('input')!;
    const x = tf.tensor4d(nchwToNhwc(input.data as Float32Array, input.shape), [input.shape[0], size, size, 3]);
    const trigger = new TriggerTensors({ mask: get('mask'), pattern: nchwToNhwc(get('pattern'), [1, 3, size, size]), height: size, width: size, channels: 3 });
    const y = tf.zeros([input.shape[0]], 'int32') as tf.Tensor1D; // unused by the contrastive loss
    const tau = scalar('tau');
    const stage = mclStageLoss(fp, fb, trigger, tau, true);
    const prepared = tf.tidy(() => stage.prepare!(x, y));
    const vars = trainableVariables(fp);
    const kept: tf.Tensor[] = [];
    const { value, grads } = gradientsOf(() => {
      const r = stage.loss(x, y, prepared);
      kept.push(tf.keep(r.parts.sPos), tf.keep(r.parts.sNeg));
      return r.loss;
    }, vars);
    const [sPos, sNeg] = await Promise.all(kept.map(async (k) => (await k.data())[0]));
    const dLoss = relDiff([(await value.data())[0], sPos, sNeg], [scalar('mcl_loss'), scalar('mcl_spos'), scalar('mcl_sneg')]);
    // The contrastive loss acts on features only: the classifier gets no gradient (PyTorch: .grad is None).
    const fc = fp.getLayer('fc').trainableWeights.map((w) => vars.indexOf(w.read() as tf.Variable));
    expect(fc.map((i) => grads[i])).toEqual([null, null]);
    const lines: string[] = [];
    let worst = 0;
    for (const key of metadata.grad_keys.split(',')) {
      const ref = t.get(`mcl_grad.${key}`)!;
      const g = grads[vars.indexOf(variableFor(fp, key))];
      expect(g, key).not.toBeNull();
      const d = relDiff(await g!.data(), torchToTf(ref.data as Float32Array, ref.shape));
      worst = Math.max(worst, d.rel);
      lines.push(`    ${key}: max |diff| ${d.abs.toExponential(2)}, rel ${d.rel.toExponential(2)}`);
      expect(d.rel, key).toBeLessThanOrEqual(TOL);
    }
    // The one train-mode forward also moved f_p's running statistics, as PyTorch's (unbiased running_var).
    let worstRunning = 0;
    for (const key of metadata.running_keys.split(',')) {
      const entry = [...wrnTorchKeys(inferWrnConfig(sd))].find(([, info]) => info.prefix === key && info.kind === 'bn');
      expect(entry, key).toBeDefined();
      const w = fp.getLayer(entry![0]).weights; // gamma, beta, moving_mean, moving_variance
      for (const [i, stat] of [[2, 'running_mean'], [3, 'running_var']] as const) {
        const d = relDiff(await w[i].read().data(), get(`mcl_running.${key}.${stat}`));
        worstRunning = Math.max(worstRunning, d.rel);
        expect(d.rel, `${key}.${stat}`).toBeLessThanOrEqual(TOL);
      }
    }
    lines.push(`    running statistics (${metadata.running_keys}): worst rel ${worstRunning.toExponential(2)}`);
    tf.dispose([x, y, ...prepared, value, ...kept, ...grads.filter((g): g is tf.Tensor => g !== null)]);
    trigger.dispose();
    expect(tf.memory().numTensors).toBe(before);
    fp.dispose();
    fb.dispose();
    report.push(`[golden ${backend}] MCL: loss/s+/s- max rel diff ${dLoss.rel.toExponential(2)}; gradients (worst rel ${worst.toExponential(2)}, tolerance ${TOL}):\n${lines.join('\n')}`);
    expect(dLoss.rel).toBeLessThanOrEqual(TOL);
  });
});
