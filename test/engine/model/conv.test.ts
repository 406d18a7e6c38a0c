/**
 * The engine's Conv2D layer (src/engine/model/conv.ts) against tfjs-layers' own on cpu: the same output and
 * gradients; a gradient with respect to the input alone (as trigger inversion takes) runs no backward-filter
 * kernel, and one with respect to the filter alone no backward-input kernel; model.json still says 'Conv2D'.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d, EngineConv2D } from '../../../src/engine/model/conv';
import { randoms, relErr } from '../../helpers/kernelCheck';

const SHAPE = [2, 7, 6, 3];
const xv = randoms(2 * 7 * 6 * 3, 41);

function wrap(layer: tf.layers.Layer): tf.LayersModel {
  const input = tf.input({ shape: SHAPE.slice(1) });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(randoms(w.size, 50 + i), w.shape)));
  return model;
}

/** Names of the kernels one gradient computation runs. */
async function kernelsOf(f: () => tf.Tensor[]): Promise<string[]> {
  const prof = await tf.profile(() => {
    const out = f();
    tf.dispose(out);
  });
  return prof.kernels.map((k) => k.name);
}

describe('the engine Conv2D layer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [strides, padding] of [[1, 'same'], [2, 'valid']] as const) {
    it(`matches tfjs-layers' output and gradients (stride ${strides}, ${padding})`, async () => {
      const args = { filters: 4, kernelSize: 3, strides, padding, useBias: false };
      const run = async (model: tf.LayersModel) => {
        const x = tf.tensor(xv, SHAPE);
        const w = model.trainableWeights[0].read() as tf.Variable;
        const loss = (a: tf.Tensor) => tf.sum(tf.square(model.apply(a) as tf.Tensor)) as tf.Scalar;
        const y = model.apply(x) as tf.Tensor;
        const dx = tf.grad(loss)(x);
        const { grads } = tf.variableGrads(() => loss(x), [w]);
        const vals = await Promise.all([y, dx, grads[w.name]].map((t) => t.data()));
        tf.dispose([x, y, dx, ...Object.values(grads)]);
        return vals;
      };
      const ours = await run(wrap(conv2d(args)));
      const stock = await run(wrap(tf.layers.conv2d(args)));
      ours.forEach((v, i) => expect(relErr(v, stock[i]), ['y', 'dx', 'dkernel'][i]).toBeLessThanOrEqual(1e-5));
    });
  }

  it('computes only the gradients asked for', async () => {
    const model = wrap(conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }));
    const w = model.trainableWeights[0].read() as tf.Variable;
    const x = tf.variable(tf.tensor(xv, SHAPE));
    const loss = () => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar;
    const inputOnly = await kernelsOf(() => Object.values(tf.variableGrads(loss, [x]).grads));
    const filterOnly = await kernelsOf(() => Object.values(tf.variableGrads(loss, [w]).grads));
    expect(inputOnly).toContain('Conv2DBackpropInput');
    expect(inputOnly).not.toContain('Conv2DBackpropFilter');
    expect(filterOnly).toContain('Conv2DBackpropFilter');
    expect(filterOnly).not.toContain('Conv2DBackpropInput');
    // tfjs-layers' own computes both either way (tf.fused.conv2d's custom gradient)
    const stock = wrap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }));
    const stockInputOnly = await kernelsOf(() => Object.values(tf.variableGrads(() => tf.sum(stock.apply(x) as tf.Tensor) as tf.Scalar, [x]).grads));
    expect(stockInputOnly).toContain('Conv2DBackpropFilter');
    x.dispose();
  });

  it('keeps tfjs-layers\' path for a bias or an activation', async () => {
    const args = { filters: 4, kernelSize: 3, padding: 'same' as const, useBias: true, activation: 'relu' as const };
    const x = tf.tensor(xv, SHAPE);
    const [a, b] = [wrap(conv2d(args)), wrap(tf.layers.conv2d(args))].map((m) => m.predict(x) as tf.Tensor);
    expect(relErr(await a.data(), await b.data())).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, a, b]);
  });

  it('saves as \'Conv2D\' and loads back as the engine\'s class', async () => {
    const json = wrap(conv2d({ filters: 2, kernelSize: 1, useBias: false })).toJSON(null, false);
    expect(JSON.stringify(json)).toContain('"class_name":"Conv2D"');
    const loaded = await tf.models.modelFromJSON(json as tf.serialization.ConfigDict);
    expect(loaded.layers[1]).toBeInstanceOf(EngineConv2D);
  });
});
