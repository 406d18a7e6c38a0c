/**
 * The fused optimizer kernels (src/engine/kernels/webgpu/optimizer.ts) through defense/optim.ts on webgpu, against
 * the composed tf ops the same classes run on cpu: several steps of SgdMomentum (momentum 0 and 0.9, weight decay
 * or none, a changing learning rate, a variable without gradient) and of Adam (with and without the [0, 1]
 * projection), on odd sizes, within 1e-4 relative; one dispatch per updated variable; no tensors left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, SgdMomentum } from '../../../../src/engine/defense/optim';
import { hasFusedKernel, OPTIMIZER_KERNELS } from '../../../../src/engine/kernels/optimizerKernels';
import { initNodeBackend } from '../../../../src/platform/node/backend';
import { countDispatches, randoms, relErr, TOL, webgpuUnavailable } from './helpers';

const why = await webgpuUnavailable();
if (why) console.warn(`WebGPU kernel tests skipped: ${why}`);

const SHAPES = [[1], [7], [3, 3, 5, 7]];
const STEPS = 4;
const grad = (shape: number[], step: number, k: number) => tf.tensor(randoms(shape.reduce((a, b) => a * b, 1), 100 * step + k), shape);

/** Final values of three variables after STEPS updates; the middle one never gets a gradient after step 0. */
async function runSgd(backend: string, momentum: number, weightDecay: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const vars = SHAPES.map((s, k) => tf.variable(tf.tensor(randoms(s.reduce((a, b) => a * b, 1), k + 1), s)));
  const sgd = new SgdMomentum(vars, momentum, weightDecay);
  for (let t = 0; t < STEPS; t++) {
    const grads = SHAPES.map((s, k) => (k === 1 && t > 0 ? null : grad(s, t, k)));
    sgd.step(grads, t < 2 ? 0.1 : 0.01);
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
  }
  sgd.dispose();
  const out = (await Promise.all(vars.map((v) => v.data()))) as Float32Array[];
  tf.dispose(vars);
  return out;
}

async function runAdam(backend: string, clip?: [number, number]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const vars = SHAPES.map((s, k) => tf.variable(tf.tensor(randoms(s.reduce((a, b) => a * b, 1), k + 1).map((v) => (v + 1) / 2), s)));
  const adam = new Adam(vars, 0.1);
  for (let t = 0; t < STEPS; t++) {
    const grads = SHAPES.map((s, k) => (k === 1 && t > 0 ? null : grad(s, t, k)));
    adam.step(grads, clip);
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
  }
  adam.dispose();
  const out = (await Promise.all(vars.map((v) => v.data()))) as Float32Array[];
  tf.dispose(vars);
  return out;
}

describe.skipIf(why != null)('fused optimizer steps on webgpu match cpu', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('are used on webgpu and not on cpu', async () => {
    await tf.setBackend('webgpu');
    expect(hasFusedKernel(OPTIMIZER_KERNELS.sgd) && hasFusedKernel(OPTIMIZER_KERNELS.adam)).toBe(true);
    await tf.setBackend('cpu');
    expect(hasFusedKernel(OPTIMIZER_KERNELS.sgd) || hasFusedKernel(OPTIMIZER_KERNELS.adam)).toBe(false);
  });

  for (const [momentum, wd] of [[0.9, 1e-4], [0.9, 0], [0, 5e-4]]) {
    it(`SgdMomentum, momentum ${momentum}, weight decay ${wd}`, async () => {
      const g = await runSgd('webgpu', momentum, wd);
      const c = await runSgd('cpu', momentum, wd);
      g.forEach((v, i) => expect(relErr(v, c[i]), `variable ${i}`).toBeLessThanOrEqual(TOL));
    });
  }

  for (const clip of [undefined, [0, 1] as [number, number]]) {
    it(`Adam${clip ? ', projected onto [0, 1]' : ''}`, async () => {
      const g = await runAdam('webgpu', clip);
      const c = await runAdam('cpu', clip);
      g.forEach((v, i) => expect(relErr(v, c[i]), `variable ${i}`).toBeLessThanOrEqual(TOL));
      if (clip) for (const v of g) expect(v.every((e) => e >= 0 && e <= 1)).toBe(true);
    });
  }

  it('dispatch once per updated variable and leave no tensors behind', async () => {
    await tf.setBackend('webgpu');
    const vars = SHAPES.map((s) => tf.variable(tf.zeros(s)));
    const grads = SHAPES.map((s, k) => grad(s, 0, k));
    const sgd = new SgdMomentum(vars, 0.9, 1e-4);
    const adam = new Adam(vars, 0.1);
    try {
      sgd.step(grads, 0.1); // creates the momentum buffers
      adam.step(grads);
      const before = tf.memory().numTensors;
      expect(await countDispatches(() => sgd.step([grads[0], null, grads[2]], 0.1))).toBe(2);
      expect(await countDispatches(() => adam.step(grads, [0, 1]))).toBe(3);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      sgd.dispose();
      adam.dispose();
      tf.dispose([...vars, ...grads]);
    }
  });
});
