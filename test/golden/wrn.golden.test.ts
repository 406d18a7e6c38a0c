/**
 * Golden test: the TF.js WRN-16-1 loaded with PyTorch weights reproduces PyTorch's features and logits.
 * Fixture: test/golden/make_fixtures.py (PyTorch 1.13, eval mode). Tolerance: 1e-4 absolute.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { forward } from '../../src/engine/model/wrn';
import { wrnFromStateDict } from '../../src/engine/model/torchWeights';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadFixture, maxAbsDiff, nchwToNhwc } from '../helpers/fixtures';

const TOL = 1e-4;

describe.each(['cpu', 'wasm'] as const)('WRN-16-1 vs PyTorch on %s', (backend) => {
  it('matches features and logits within 1e-4', async () => {
    await initNodeBackend(backend);
    const { sd, t } = loadFixture('wrn16_1.safetensors');
    const input = t.get('input')!;
    const { model, config } = wrnFromStateDict(sd);
    expect(config).toMatchObject({ depth: 16, widen: 1, numClasses: 10 });
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(nchwToNhwc(input.data as Float32Array, input.shape), [input.shape[0], 32, 32, 3]);
    const { features, logits } = forward(model, x);
    const dF = maxAbsDiff(await features.data(), t.get('features')!.data);
    const dL = maxAbsDiff(await logits.data(), t.get('logits')!.data);
    tf.dispose([x, features, logits]);
    console.log(`[golden ${backend}] WRN-16-1 max |diff|: features ${dF.toExponential(2)}, logits ${dL.toExponential(2)} (tolerance ${TOL})`);
    expect(tf.memory().numTensors).toBe(before);
    expect(dF).toBeLessThanOrEqual(TOL);
    expect(dL).toBeLessThanOrEqual(TOL);
    model.dispose();
  });
});
