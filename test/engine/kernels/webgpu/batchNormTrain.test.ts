/**
 * Training-mode BatchNorm as one op (src/engine/kernels/batchNormTrain.ts) on webgpu, where it runs the WGSL
 * kernels of webgpu/batchNormTrain.ts, against the same op on cpu, where it is tf.moments + tf.batchNorm
 * differentiated by tfjs: output, running averages and the gradients of x, scale and offset within 1e-4
 * relative, with and without the affine parameters. 297 rows (> one 256-row split chunk)
 * exercise the two-pass reductions. Also: the statistics of an input whose mean is 1000x its spread against a
 * float64 reference, the dispatch count, and the tensor count.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchNormTrain, fusedBatchNormAvailable } from '../../../../src/engine/kernels/batchNormTrain';
import { observeMultiOutputDispatches } from '../../../../src/engine/kernels/webgpu/multiOutput';
import { initNodeBackend } from '../../../../src/platform/node/backend';
import { on, randoms, relErr, TOL, webgpuUnavailable } from './helpers';

const why = await webgpuUnavailable();
if (why) console.warn(`WebGPU kernel tests skipped: ${why}`);

const SHAPE = [3, 11, 9, 5]; // 297 rows of 5 channels
const N = 3 * 11 * 9 * 5;
const xv = randoms(N, 21).map((v) => 2 * v + 0.3);
const dyv = randoms(N, 22);
const ch = (seed: number, shift = 0) => randoms(5, seed).map((v) => v + shift);

/** y, running mean, running variance, dx, dscale, doffset (those that exist) of one op call, with loss sum(y * dy). */
function opOutputs(affine: boolean): tf.Tensor[] {
  const x = tf.tensor(xv, SHAPE);
  const dy = tf.tensor(dyv, SHAPE);
  const scale = affine ? tf.tensor(ch(1, 1), [5]) : null;
  const offset = affine ? tf.tensor(ch(2), [5]) : null;
  const running = { mean: tf.tensor(ch(3), [5]), variance: tf.tensor(ch(4, 2), [5]), momentum: 0.9 };
  const params = [x, ...(affine ? [scale!, offset!] : [])];
  let kept: tf.Tensor[] = [];
  const grads = tf.grads((...p: tf.Tensor[]) => {
    const r = batchNormTrain(p[0], affine ? p[1] : null, affine ? p[2] : null, 1e-5, { running });
    kept = [r.y, r.running!.mean, r.running!.variance].map((t) => tf.keep(t));
    return tf.sum(tf.mul(r.y, dy));
  })(params);
  return [...kept, ...grads];
}

describe.skipIf(why != null)('training BatchNorm on webgpu matches cpu', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('uses the fused kernels on webgpu and the composed ops on cpu', async () => {
    await tf.setBackend('webgpu');
    expect(fusedBatchNormAvailable()).toBe(true);
    await tf.setBackend('cpu');
    expect(fusedBatchNormAvailable()).toBe(false);
  });

  const names = ['y', 'running mean', 'running variance', 'dx', 'dscale', 'doffset'];
  for (const affine of [true, false]) {
    it(`output, running averages and gradients (scale and offset ${affine})`, async () => {
      const g = await on('webgpu', () => opOutputs(affine));
      const c = await on('cpu', () => opOutputs(affine));
      expect(g.length).toBe(affine ? 6 : 4);
      g.forEach((v, i) => expect(relErr(v, c[i]), names[i]).toBeLessThanOrEqual(TOL));
    });
  }

  it('keeps the statistics exact when the mean dwarfs the spread (chunks merged, no E[x^2] - E[x]^2)', async () => {
    const big = Float32Array.from(xv, (v) => 1000 + v);
    const stats = await on('webgpu', () => {
      const r = batchNormTrain(tf.tensor(big, SHAPE), null, null, 1e-5, { running: { mean: tf.zeros([5]), variance: tf.zeros([5]), momentum: 0 } });
      return [r.running!.mean, r.running!.variance];
    });
    const R = N / 5;
    for (let c = 0; c < 5; c++) {
      let m = 0;
      for (let r = 0; r < R; r++) m += big[r * 5 + c];
      m /= R;
      let v = 0;
      for (let r = 0; r < R; r++) v += (big[r * 5 + c] - m) ** 2;
      v /= R - 1; // momentum 0: the running variance is the unbiased batch variance
      expect(Math.abs(stats[0][c] - m) / m).toBeLessThan(1e-6);
      expect(Math.abs(stats[1][c] - v) / v).toBeLessThan(1e-4);
    }
  });

  it('costs 3 dispatches forward and 3 backward, and leaves no tensors behind', async () => {
    await tf.setBackend('webgpu');
    // Dispatches counted by the kernel that made them (the outermost kernel running at the time).
    const engine = tf.engine() as unknown as { runKernelFunc: (p: { kernelName?: string }) => unknown };
    const b = tf.backend() as unknown as { runWebGPUProgram: (...a: unknown[]) => unknown };
    const [origKernel, origRun] = [engine.runKernelFunc, b.runWebGPUProgram];
    const stack: string[] = [];
    const counts = new Map<string, number>();
    const count = () => counts.set(stack[0] ?? '', (counts.get(stack[0] ?? '') ?? 0) + 1);
    engine.runKernelFunc = function (this: unknown, p: { kernelName?: string }) {
      stack.push(p.kernelName ?? 'customGrad');
      try {
        return origKernel.call(this, p);
      } finally {
        stack.pop();
      }
    };
    b.runWebGPUProgram = function (this: unknown, ...a: unknown[]) {
      count();
      return origRun.apply(this, a);
    };
    const stop = observeMultiOutputDispatches(count);
    const x = tf.tensor(xv, SHAPE);
    const [scale, offset] = [tf.ones([5]), tf.zeros([5])];
    const before = tf.memory().numTensors;
    try {
      const gs = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(batchNormTrain(a, s, o, 1e-5).y))([x, scale, offset]);
      await Promise.all(gs.map((t) => t.data()));
      tf.dispose(gs);
      // forward: statistics (2) and the normalizing pass (1, inside the custom gradient's forward)
      expect([counts.get('MclBnStats'), counts.get('customGrad')]).toEqual([2, 1]);
      // backward: the sums (2) and dx (1)
      expect([counts.get('MclBnGradSums'), counts.get('MclBnGradInput')]).toEqual([2, 1]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      engine.runKernelFunc = origKernel;
      b.runWebGPUProgram = origRun;
      stop();
      tf.dispose([x, scale, offset]);
    }
  });
});
