/**
 * The WGSL convolution gradients (src/engine/kernels/webgpu/convGradients.ts) against the cpu backend, called
 * directly (so a kernel that declined would fail the test rather than fall back to the stock one) and through
 * tf.grads (so the registration is exercised). Shapes are odd and tiny (SwiftShader is slow); the layer kinds are
 * WRN-16-1's: 3x3 stride 1 'same', 3x3 stride 2 after explicit zero padding ('valid'), 1x1 stride 2 'valid'.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dBackpropFilterWebGPU, conv2dBackpropInputWebGPU } from '../../../../src/engine/kernels/webgpu/convGradients';
import { initNodeBackend } from '../../../../src/platform/node/backend';
import { on, randoms, relErr, size, TOL, webgpuUnavailable } from './helpers';

const why = await webgpuUnavailable();
if (why) console.warn(`WebGPU kernel tests skipped: ${why}`);

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  s: number;
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 7, 5, 3], k: 3, co: 5, s: 1, pad: 'same' }, // odd everything
  { x: [1, 9, 7, 6], k: 3, co: 10, s: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] }, // WRN's stride-2 conv
  { x: [2, 7, 7, 4], k: 1, co: 6, s: 2, pad: 'valid' }, // WRN's 1x1 shortcut
  { x: [1, 5, 6, 3], k: 3, co: 4, s: 2, pad: 'same' },
  { x: [4, 12, 12, 3], k: 3, co: 33, s: 1, pad: 'same' }, // K = 576: the filter gradient splits; Co > one tile
];

describe.skipIf(why != null)('WGSL convolution gradients match cpu', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(CASES)('x [$x] k $k co $co s $s $pad', async (c) => {
    const wShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.co];
    const info = tf.backend_util.computeConv2DInfo(c.x, wShape, c.s, 1, c.pad);
    const [xv, wv, dyv] = [randoms(size(c.x), 1), randoms(size(wShape), 2), randoms(size(info.outShape), 3)];
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: wShape, inputShape: c.x } as never;

    // Direct calls: the fast paths must accept these shapes.
    await tf.setBackend('webgpu');
    const before = tf.memory().numTensors;
    const [x, w, dy] = [tf.tensor(xv, c.x), tf.tensor(wv, wShape), tf.tensor(dyv, info.outShape)];
    const backend = tf.backend();
    const dwInfo = conv2dBackpropFilterWebGPU({ inputs: { x, dy }, backend, attrs });
    const dxInfo = conv2dBackpropInputWebGPU({ inputs: { dy, filter: w }, backend, attrs });
    expect(dwInfo).not.toBeNull();
    expect(dxInfo).not.toBeNull();
    const [dwT, dxT] = [tf.engine().makeTensorFromTensorInfo(dwInfo!), tf.engine().makeTensorFromTensorInfo(dxInfo!)];
    const [dwG, dxG] = [(await dwT.data()) as Float32Array, (await dxT.data()) as Float32Array];
    tf.dispose([x, w, dy, dwT, dxT]);
    expect(tf.memory().numTensors).toBe(before);

    // Through tf.grads with the kernels registered.
    const run = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad));
      return g([tf.tensor(xv, c.x), tf.tensor(wv, wShape)], tf.tensor(dyv, info.outShape));
    };
    const [dxR, dwR] = await on('webgpu', run);
    const [dxC, dwC] = await on('cpu', run);
    const errs = [relErr(dwG, dwC), relErr(dxG, dxC), relErr(dwR, dwC), relErr(dxR, dxC)];
    console.log(`x [${c.x}] k ${c.k} co ${c.co} s ${c.s} ${JSON.stringify(c.pad)}: dw rel ${errs[0].toExponential(2)}, dx rel ${errs[1].toExponential(2)} (via tf.grads ${errs[2].toExponential(2)}, ${errs[3].toExponential(2)})`);
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOL);
  });
});
