/**
 * One whole training step of a WRN with WRN-16-1's block structure (three groups of two pre-activation blocks,
 * stride-2 3x3 convs after zero padding, 1x1 shortcuts, BatchNorm in training mode) on webgpu with the project's
 * kernels, against cpu: loss, every gradient and the moved running averages within 1e-4 relative; and with the
 * engine's SGD, at most 300 GPU dispatches per step (the issue's target) and tf.memory().numTensors flat across
 * steps. Input 8x8 and batch 2 keep SwiftShader to seconds.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradientsOf, SgdMomentum, trainableVariables } from '../../../../src/engine/defense/optim';
import { buildWrn, forward, WRN_16_1 } from '../../../../src/engine/model/wrn';
import { initNodeBackend } from '../../../../src/platform/node/backend';
import { countDispatches, on, randoms, relErr, TOL, webgpuUnavailable } from './helpers';

const why = await webgpuUnavailable();
if (why) console.warn(`WebGPU kernel tests skipped: ${why}`);

const cfg = { ...WRN_16_1, inputShape: [8, 8, 3] as [number, number, number] };
const B = 2;

describe.skipIf(why != null)('a WRN-16-1 training step on webgpu with the WGSL kernels', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives the loss and gradients of the cpu backend', async () => {
    await tf.setBackend('cpu');
    const ref = buildWrn(cfg, 5);
    const weights = await Promise.all(ref.getWeights().map((w) => w.data()));
    const shapes = ref.getWeights().map((w) => w.shape);
    ref.dispose();
    const xv = randoms(B * 8 * 8 * 3, 9).map((v) => (v + 1) / 2);
    const run = (backend: 'webgpu' | 'cpu') =>
      on(backend, () => {
        const model = buildWrn(cfg, 5);
        model.setWeights(weights.map((w, i) => tf.tensor(w, shapes[i])));
        const x = tf.tensor(xv, [B, 8, 8, 3]) as tf.Tensor4D;
        const y = tf.oneHot(tf.tensor1d([3, 5], 'int32'), 10);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, true).logits) as tf.Scalar, vars);
        // and the running averages the train-mode forward moved (13 BatchNorms x mean, variance)
        const running = model.nonTrainableWeights.map((w) => tf.clone(w.read()));
        const out = [value, ...vars.map((v) => grads[v.name]), ...running];
        out.forEach((t) => tf.keep(t));
        model.dispose();
        return out;
      });
    const g = await run('webgpu');
    const c = await run('cpu');
    const nGrads = 43;
    const errs = g.slice(1, 1 + nGrads).map((v, i) => relErr(v, c[i + 1]));
    const runErrs = g.slice(1 + nGrads).map((v, i) => relErr(v, c[i + 1 + nGrads]));
    const lossErr = relErr(g[0], c[0]);
    console.log(`WRN step: loss webgpu ${g[0][0].toFixed(6)} cpu ${c[0][0].toFixed(6)}; worst of ${errs.length} gradients rel ${Math.max(...errs).toExponential(2)}, of ${runErrs.length} running averages ${Math.max(...runErrs).toExponential(2)}`);
    expect([errs.length, runErrs.length]).toEqual([nGrads, 26]);
    expect(lossErr).toBeLessThanOrEqual(TOL);
    expect(Math.max(...errs)).toBeLessThanOrEqual(TOL);
    expect(Math.max(...runErrs)).toBeLessThanOrEqual(TOL);
  });

  it('takes at most 300 dispatches per step with the engine\'s SGD and leaves tf.memory().numTensors unchanged', async () => {
    await tf.setBackend('webgpu');
    const model = buildWrn(cfg, 6);
    const x = tf.randomUniform([B, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 10);
    const vars = trainableVariables(model);
    const sgd = new SgdMomentum(vars, 0.9, 1e-4);
    const step = async () => {
      const { value, grads } = gradientsOf(() => tf.losses.softmaxCrossEntropy(y, forward(model, x, true).logits) as tf.Scalar, vars);
      sgd.step(grads, 0.01);
      tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
      const v = (await value.data())[0];
      value.dispose();
      return v;
    };
    await step(); // creates the momentum buffers
    const n0 = tf.memory().numTensors;
    const dispatches = await countDispatches(step);
    await step();
    console.log(`WRN step: ${dispatches} dispatches`);
    expect(dispatches).toBeLessThanOrEqual(300);
    expect(tf.memory().numTensors).toBe(n0);
    sgd.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
