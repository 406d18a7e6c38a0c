/** measureRates: positive finite rates for each kind of pass, weights untouched, no tensor left behind. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureRates } from '../../../src/engine/defense/calibrate';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { buildWrn, WRN_16_1 } from '../../../src/engine/model/wrn';
import { toyModel } from './toy';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('measureRates', () => {
  it('times forward, training and inversion passes without changing the model or leaking', async () => {
    const model = toyModel();
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const n0 = tf.memory().numTensors;
    const r = await measureRates(model, { batch: 4, steps: 1 });
    expect(tf.memory().numTensors).toBe(n0);
    for (const v of [r.forward, r.train, r.invert]) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(r.partial).toBe(false);
    model.getWeights().forEach((w, i) => expect(w.dataSync()).toEqual(before[i]));
    model.dispose();
  });

  it('leaves the BatchNorm running statistics of a model that has BatchNorm as they were', async () => {
    const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 4, inputShape: [8, 8, 3] }, 2);
    expect(model.nonTrainableWeights.length).toBeGreaterThan(0);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const n0 = tf.memory().numTensors;
    await measureRates(model, { batch: 4, steps: 1 });
    expect(tf.memory().numTensors).toBe(n0);
    model.getWeights().forEach((w, i) => expect(w.dataSync()).toEqual(before[i]));
    model.dispose();
  });

  it('stops at its time budget and bounds the untimed kinds by the last timed one', async () => {
    const model = toyModel();
    const n0 = tf.memory().numTensors;
    const r = await measureRates(model, { batch: 4, steps: 1, budgetMs: 0 });
    expect(tf.memory().numTensors).toBe(n0);
    expect(r.partial).toBe(true);
    expect(r.train).toBe(r.forward);
    expect(r.invert).toBe(r.forward);
    model.dispose();
  });
});
