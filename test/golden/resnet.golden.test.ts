/**
 * Golden test: TF.js ResNet-18 and PreAct-ResNet-18 (with and without the final BN) loaded from PyTorch
 * state_dicts reproduce PyTorch's features and logits. Fixtures: test/golden/make_resnet_fixtures.py (PyTorch
 * 1.13, eval mode, reduced base widths; one at a 36x36 input, whose stride-2 stages see odd sizes).
 * Tolerance: 1e-4 absolute.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { modelFromStateDict } from '../../src/engine/model/stateDictLoad';
import { forward } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadFixture, maxAbsDiff, nchwToNhwc } from '../helpers/fixtures';

const TOL = 1e-4;

const CASES = [
  { file: 'resnet18_w8.safetensors', arch: 'resnet18', width: 8, finalBn: false, numClasses: 10 },
  { file: 'preactresnet18_w4.safetensors', arch: 'preactresnet18', width: 4, finalBn: false, numClasses: 10 },
  { file: 'preactresnet18_w4_bn.safetensors', arch: 'preactresnet18', width: 4, finalBn: true, numClasses: 43 },
] as const;

describe.each(['cpu', 'wasm'] as const)('ResNets vs PyTorch on %s', (backend) => {
  it.each(CASES)('$file matches features and logits within 1e-4', async ({ file, arch, width, finalBn, numClasses }) => {
    await initNodeBackend(backend);
    const { sd, t, metadata } = loadFixture(file);
    const input = t.get('input')!; // [B, C, H, W]
    const [b, c, h, w] = input.shape;
    const loaded = modelFromStateDict(sd, { mean: JSON.parse(metadata.mean), std: JSON.parse(metadata.std), inputSize: Number(metadata.input_size) });
    expect(loaded.arch).toBe(arch);
    expect(loaded.config).toMatchObject({ width, finalBn, numClasses, inputShape: [h, w, c] });
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(nchwToNhwc(input.data as Float32Array, input.shape), [b, h, w, c]);
    const { features, logits } = forward(loaded.model, x);
    const dF = maxAbsDiff(await features.data(), t.get('features')!.data);
    const dL = maxAbsDiff(await logits.data(), t.get('logits')!.data);
    tf.dispose([x, features, logits]);
    console.log(`[golden ${backend}] ${loaded.description} max |diff|: features ${dF.toExponential(2)}, logits ${dL.toExponential(2)} (tolerance ${TOL})`);
    expect(tf.memory().numTensors).toBe(before);
    expect(dF).toBeLessThanOrEqual(TOL);
    expect(dL).toBeLessThanOrEqual(TOL);
    loaded.model.dispose();
  });
});
