/**
 * The WGSL BatchNorm and reduction kernels (src/engine/kernels/webgpu/batchNorm.ts) and the webgpu gradients
 * (gradients.ts) against the cpu backend, on odd tiny shapes (SwiftShader is slow). The rows reduced are chosen
 * past one split chunk (>256), so the two-pass split reduction is exercised.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BN_GRAD_STATS, fusedBatchNormWebGPU, sumLeadingWebGPU } from '../../../../src/engine/kernels/webgpu/batchNorm';
import { registerWebGPUKernels, unregisterWebGPUKernels, webgpuKernelsRegistered } from '../../../../src/engine/kernels/webgpu/register';
import { initNodeBackend } from '../../../../src/platform/node/backend';
import { on, randoms, relErr, TOL, webgpuUnavailable } from './helpers';

const why = await webgpuUnavailable();
if (why) console.warn(`WebGPU kernel tests skipped: ${why}`);

const SHAPE = [3, 11, 9, 5]; // 297 rows of 5 channels
const xv = randoms(3 * 11 * 9 * 5, 7);
const dyv = randoms(3 * 11 * 9 * 5, 8);
const p = (seed: number) => randoms(5, seed);

describe.skipIf(why != null)('WGSL BatchNorm and reductions match cpu', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the fast paths accept the model\'s shapes (they do not decline)', async () => {
    await tf.setBackend('webgpu');
    const [x, m, v] = [tf.tensor(xv, SHAPE), tf.tensor(p(1), [5]), tf.abs(tf.tensor(p(2), [5]))];
    const backend = tf.backend();
    const y = fusedBatchNormWebGPU({ inputs: { x, mean: m, variance: v }, backend, attrs: { varianceEpsilon: 1e-5 } });
    const s = sumLeadingWebGPU({ inputs: { x }, backend, attrs: { axis: [0, 1, 2], keepDims: false } });
    expect(y).not.toBeNull();
    expect(s?.shape).toEqual([5]);
    tf.dispose([x, m, v, tf.engine().makeTensorFromTensorInfo(y!), tf.engine().makeTensorFromTensorInfo(s!)]);
  });

  const ops: Array<[string, () => tf.Tensor[]]> = [
    ['sum/mean over leading axes', () => {
      const x = tf.tensor(xv, SHAPE);
      return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2]), tf.sum(x, [1, 2], true), tf.mean(x, [0, 1]), tf.sum(x, 3), tf.moments(x, [0, 1, 2]).variance];
    }],
    ['batchNorm forward', () => [
      tf.batchNorm(tf.tensor(xv, SHAPE), tf.tensor(p(1), [5]), tf.abs(tf.tensor(p(2), [5])), tf.tensor(p(3), [5]), tf.tensor(p(4), [5]), 1e-3),
      tf.batchNorm(tf.tensor(xv, SHAPE), tf.tensor(p(1), [5]), tf.abs(tf.tensor(p(2), [5]))),
    ]],
    ['batchNorm gradients (x, mean, variance, offset, scale)', () => {
      const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.batchNorm(x, m, v, o, s, 1e-5);
      return tf.grads(f)([tf.tensor(xv, SHAPE), tf.tensor(p(1), [5]), tf.abs(tf.tensor(p(2), [5])), tf.tensor(p(3), [5]), tf.tensor(p(4), [5])], tf.tensor(dyv, SHAPE));
    }],
    ['batchNorm gradient w.r.t. x alone (eval mode, as trigger inversion: MclBnInferenceGrad)', () => {
      const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(x, tf.tensor(p(1), [5]), tf.abs(tf.tensor(p(2), [5])), tf.tensor(p(3), [5]), tf.tensor(p(4), [5]), 1e-5), tf.tensor(dyv, SHAPE)));
      return [tf.grad(f)(tf.tensor(xv, SHAPE))];
    }],
    ['batchNorm through moments (training mode), relu, mean and sum gradients', () => {
      const f = (x: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        // (tfjs cannot differentiate batchNorm without scale: it saves the missing input for backprop)
        return tf.sum(tf.mul(tf.relu(tf.batchNorm(x, mean, variance, tf.tensor(p(3), [5]), tf.tensor(p(4), [5]), 1e-5)), tf.tensor(dyv, SHAPE)));
      };
      return [tf.grad(f)(tf.tensor(xv, SHAPE)), tf.grad((x: tf.Tensor) => tf.mean(x, [0, 1]))(tf.tensor(xv, SHAPE), tf.tensor(randoms(45, 9), [9, 5]))];
    }],
  ];

  it.each(ops)('%s', async (_name, f) => {
    const a = await on('webgpu', f);
    const b = await on('cpu', f);
    const errs = a.map((v, i) => relErr(v, b[i]));
    console.log(`${_name}: rel ${errs.map((e) => e.toExponential(2)).join(', ')}`);
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOL);
  });

  it('MclBatchNormGradStats gives sum(dy) and sum(dy * (x - mean))', async () => {
    const mean = p(5);
    const [stats] = await on('webgpu', () => [tf.engine().runKernel(BN_GRAD_STATS, { dy: tf.tensor(dyv, SHAPE), x: tf.tensor(xv, SHAPE), mean: tf.tensor(mean, [5]) }) as tf.Tensor]);
    const want = new Float64Array(10);
    for (let i = 0; i < xv.length; i++) {
      const c = i % 5;
      want[c] += dyv[i];
      want[5 + c] += dyv[i] * (xv[i] - mean[c]);
    }
    expect(relErr(stats, want)).toBeLessThanOrEqual(TOL);
  });

  it('registers idempotently and restores the stock kernels', () => {
    registerWebGPUKernels();
    expect(webgpuKernelsRegistered()).toBe(true);
    unregisterWebGPUKernels();
    expect(webgpuKernelsRegistered()).toBe(false);
    expect(tf.getKernel(BN_GRAD_STATS, 'webgpu')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')).toBeDefined(); // the stock one is back
    registerWebGPUKernels();
    expect(tf.getKernel(BN_GRAD_STATS, 'webgpu')).toBeDefined();
  });
});
