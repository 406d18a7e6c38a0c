/**
 * The engine's BatchNormalization layer (src/engine/model/batchNorm.ts) against tfjs-layers' own on cpu: the same
 * output and gradients in both modes, PyTorch's running-variance update (unbiased) where tfjs-layers uses the
 * biased variance, and model.json files that still say 'BatchNormalization' and load as the engine's class.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingBatchNormalization, batchNormalization } from '../../../src/engine/model/batchNorm';
import { relErr, randoms } from '../../helpers/kernelCheck';

const SHAPE = [2, 3, 4, 5];
const R = 2 * 3 * 4; // values per channel
const xv = randoms(R * 5, 31).map((v) => 3 * v + 1);
const args = { axis: -1, epsilon: 1e-5, momentum: 0.9 };

/** A one-layer model around `layer`, with seeded gamma/beta and running statistics. */
function wrap(layer: tf.layers.Layer): tf.LayersModel {
  const input = tf.input({ shape: SHAPE.slice(1) });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  model.setWeights([randoms(5, 1).map((v) => v + 1), randoms(5, 2), randoms(5, 3), randoms(5, 4).map((v) => v + 2)].map((v) => tf.tensor(v, [5])));
  return model;
}

/** y, d(sum(y * w))/dx, d/dgamma, d/dbeta, then moving mean and variance after one call. */
async function trainCall(model: tf.LayersModel): Promise<Float32Array[]> {
  const x = tf.tensor(xv, SHAPE);
  const w = tf.tensor(randoms(R * 5, 9), SHAPE);
  const [gamma, beta] = model.trainableWeights.map((v) => v.read() as tf.Variable);
  let y: tf.Tensor | null = null;
  const { grads } = tf.variableGrads(() => {
    y = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
    return tf.sum(tf.mul(y, w));
  }, [gamma, beta]);
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(model.apply(a, { training: true }) as tf.Tensor, w)))(x);
  const out = [y!, dx, grads[gamma.name], grads[beta.name]];
  const vals = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, w, ...out, ...Object.values(grads)]);
  // Two training calls moved the averages twice (the variableGrads one and the tf.grad one).
  const moving = await Promise.all(model.nonTrainableWeights.map((v) => v.read().data() as Promise<Float32Array>));
  return [...vals, ...moving];
}

describe('the engine BatchNormalization layer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives tfjs-layers\' output and gradients in training mode, and PyTorch\'s running averages', async () => {
    const ours = await trainCall(wrap(batchNormalization(args)));
    const stock = await trainCall(wrap(tf.layers.batchNormalization(args)));
    for (let i = 0; i < 4; i++) expect(relErr(ours[i], stock[i]), ['y', 'dx', 'dgamma', 'dbeta'][i]).toBeLessThanOrEqual(1e-5);
    expect(relErr(ours[4], stock[4]), 'moving mean').toBeLessThanOrEqual(1e-6);
    // After two updates with batch variance v: ours m^2 o + (1 - m^2) v R/(R-1), stock the same with v.
    const m2 = 0.81;
    const start = randoms(5, 4).map((v) => v + 2);
    const expected = stock[5].map((s, c) => m2 * start[c] + (s - m2 * start[c]) * (R / (R - 1)));
    expect(relErr(ours[5], expected), 'moving variance').toBeLessThanOrEqual(1e-5);
    expect(relErr(ours[5], stock[5])).toBeGreaterThan(1e-3); // it is not the biased one
  });

  it('is tfjs-layers\' layer in inference mode', async () => {
    const x = tf.tensor(xv, SHAPE);
    const [a, b] = [wrap(batchNormalization(args)), wrap(tf.layers.batchNormalization(args))].map((m) => m.predict(x) as tf.Tensor);
    expect(relErr(await a.data(), await b.data())).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, a, b]);
  });

  it('saves as \'BatchNormalization\' and loads back as the engine\'s class', async () => {
    const model = wrap(batchNormalization(args));
    const json = JSON.stringify(model.toJSON(null, false));
    expect(json).toContain('"class_name":"BatchNormalization"');
    expect(json).not.toContain('Custom>');
    const loaded = await tf.models.modelFromJSON(JSON.parse(json));
    expect(loaded.layers[1]).toBeInstanceOf(TrainingBatchNormalization);
    // a file written by stock tfjs-layers loads as the engine's class too
    const stockJson = wrap(tf.layers.batchNormalization(args)).toJSON(null, false);
    expect((await tf.models.modelFromJSON(stockJson as tf.serialization.ConfigDict)).layers[1]).toBeInstanceOf(TrainingBatchNormalization);
  });
});
