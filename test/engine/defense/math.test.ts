/**
 * The defense's arithmetic on known numbers: losses (s+ = s- gives log 2, ...), the learning-rate schedule,
 * Neural Cleanse's MAD anomaly index, and the optimizers against PyTorch's SGD / Adam trajectories.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, lrAt, resolveConfig } from '../../../src/engine/defense/config';
import { anomalyReport, median } from '../../../src/engine/defense/detect';
import { attentionLoss, attentionMap, cosineSimilarity, crossEntropy, mclLoss, positivePairLoss } from '../../../src/engine/defense/losses';
import { Adam, gradientsOf, SgdMomentum } from '../../../src/engine/defense/optim';
import { initNodeBackend } from '../../../src/platform/node/backend';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

const val = (t: tf.Tensor) => (t.dataSync() as Float32Array)[0];

describe('losses', () => {
  it('MCL loss is log 2 when s+ = s-, and softplus((s- - s+) / t) otherwise', () => {
    tf.tidy(() => {
      const z = tf.tensor2d([[1, 2, 3], [0, -1, 4]]);
      const other = tf.tensor2d([[3, 1, 0], [2, 2, 2]]);
      const same = mclLoss(z, other, other, 0.5);
      expect(val(same.loss)).toBeCloseTo(Math.log(2), 6);
      expect(val(same.sPos)).toBeCloseTo(val(same.sNeg), 7);
      // z = z+ (s+ = 1) and z orthogonal to z- (s- = 0): -log(e^2 / (e^2 + 1)) = log(1 + e^-2)
      const r = mclLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, 0]]), tf.tensor2d([[0, 5]]), 0.5);
      expect(val(r.loss)).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
      expect(val(r.sPos)).toBeCloseTo(1, 6);
      expect(val(r.sNeg)).toBeCloseTo(0, 6);
    });
  });

  it('cosine similarity, positive-pair loss and cross-entropy on known values', () => {
    tf.tidy(() => {
      const cos = cosineSimilarity(tf.tensor2d([[1, 0], [1, 1], [0, 0]]), tf.tensor2d([[0, 1], [2, 2], [1, 0]]));
      expect(Array.from(cos.dataSync())).toEqual([0, expect.closeTo(1, 6), 0]); // zero vector: 0, not NaN
      expect(val(positivePairLoss(tf.tensor2d([[1, 2]]), tf.tensor2d([[2, 4]])).loss)).toBeCloseTo(0, 6);
      const logits = tf.tensor2d([[2, 0, 0], [0, 0, 0]]);
      const expected = (-Math.log(Math.exp(2) / (Math.exp(2) + 2)) - Math.log(1 / 3)) / 2;
      expect(val(crossEntropy(logits, tf.tensor1d([0, 1], 'int32')))).toBeCloseTo(expected, 6);
    });
  });

  it('attention maps are L2-normalized per image; the loss is 0 for equal maps and scale-invariant', () => {
    tf.tidy(() => {
      const a = tf.randomUniform([2, 4, 4, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
      const norms = tf.norm(attentionMap(a), 2, 1).dataSync();
      expect(norms[0]).toBeCloseTo(1, 5);
      expect(norms[1]).toBeCloseTo(1, 5);
      expect(val(attentionLoss(a, tf.mul(a, 3) as tf.Tensor4D))).toBeCloseTo(0, 6);
      const b = tf.randomUniform([2, 4, 4, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
      expect(val(attentionLoss(a, b))).toBeGreaterThan(0);
    });
  });
});

describe('schedule and config', () => {
  it('lr is 0.1 for epoch 0, 0.01 for epochs 1-9, 0.001 after (docs/design.md)', () => {
    const s = DEFAULT_CONFIG.lr;
    expect([0, 1, 5, 9, 10, 19].map((e) => lrAt(s, e))).toEqual([0.1, 0.01, 0.01, 0.01, 0.001, 0.001]);
  });

  it('defaults are the paper settings; bad values are named', () => {
    const c = resolveConfig({ target: 5, inversion: { epochs: 3 } });
    expect(c).toMatchObject({ method: 'mcldef', tau: 0.5, batchSize: 64, epochs: 20, momentum: 0.9, weightDecay: 1e-4 });
    expect(c.inversion).toMatchObject({ lambda: 0.01, lr: 0.005, batchSize: 64, epochs: 3, patience: 30 });
    expect(c.nad.betas).toEqual([500, 1000, 1000]);
    expect(() => resolveConfig({})).toThrow(/needs a target class/);
    expect(resolveConfig({ method: 'ft' }).target).toBeUndefined();
    expect(() => resolveConfig({ target: 1, tau: 0 })).toThrow(/tau/);
    expect(() => resolveConfig({ target: 1, method: 'nope' as 'ft' })).toThrow(/unknown method/);
  });
});

describe('Neural Cleanse anomaly index', () => {
  it('median / MAD on known numbers', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    // L1 = [10, 11, 12, 13, 2]: median 11, |dev| = [1, 0, 1, 2, 9] -> MAD 1; index = dev / 1.4826
    const r = anomalyReport([10, 11, 12, 13, 2]);
    expect(r.median).toBe(11);
    expect(r.mad).toBe(1);
    expect(r.anomaly[4]).toBeCloseTo(9 / 1.4826, 10);
    expect(r.anomaly[3]).toBeCloseTo(2 / 1.4826, 10);
    expect(r.flagged).toBe(4);
    expect(r.flaggedAll).toEqual([4]);
  });

  it('flags only classes below the median, and none when nothing stands out', () => {
    expect(anomalyReport([10, 11, 12, 13, 40]).flagged).toBeNull(); // large L1 is not a backdoor
    expect(anomalyReport([10, 11, 12, 13, 9]).flagged).toBeNull(); // index 1.35 < 2
    const flat = anomalyReport([5, 5, 5, 1]);
    expect(flat.mad).toBe(0);
    expect(flat.anomaly).toEqual([0, 0, 0, Infinity]);
    expect(flat.flagged).toBe(3);
  });

  it('on the log scale, flags a mask many times smaller than widely spread others', () => {
    // Mask L1 per class of the shipped Blend model after 6 epochs per class (docs/bench/detect): the target's 3-pixel
    // mask is not an outlier in pixels (index 1.79) but is one in ratio.
    const l1 = [16.49, 41.92, 21.34, 35.54, 53.63, 3.01, 48.83, 22.98, 31.9, 39.6];
    const linear = anomalyReport(l1);
    expect(linear.scale).toBe('linear');
    expect(linear.flagged).toBeNull();
    expect(linear.anomaly[5]).toBeCloseTo(1.79, 2);
    const log = anomalyReport(l1, 2, 'log');
    const logs = l1.map(Math.log);
    const med = (logs.slice().sort((a, b) => a - b)[4] + logs.slice().sort((a, b) => a - b)[5]) / 2;
    expect(log.median).toBeCloseTo(med, 12);
    expect(log.anomaly[5]).toBeCloseTo((med - Math.log(3.01)) / (1.4826 * log.mad), 12);
    expect(log.flaggedAll).toEqual([5]);
    expect(log.l1).toEqual(l1);
    // The same spread without an outlier flags nothing; a zero mask is floored, not -Infinity.
    expect(anomalyReport([16.49, 41.92, 21.34, 35.54, 53.63, 30, 48.83, 22.98, 31.9, 39.6], 2, 'log').flagged).toBeNull();
    expect(anomalyReport([10, 11, 12, 0], 2, 'log').anomaly.every(Number.isFinite)).toBe(true);
  });
});

describe('optimizers match PyTorch', () => {
  const grads = [
    [0.5, 1.0],
    [-0.2, 3.0],
    [0.3, -1.0],
  ];
  it('SGD momentum 0.9, weight decay 0.1, lr 0.1 (torch.optim.SGD trajectory)', () => {
    const p = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
    const opt = new SgdMomentum([p], 0.9, 0.1);
    const seen = grads.map((g) => {
      const t = tf.tensor1d(g);
      opt.step([t], 0.1);
      t.dispose();
      return Array.from(p.dataSync());
    });
    const torch = [
      [0.94, -2.08],
      [0.8966, -2.4312],
      [0.818574, -2.622968],
    ];
    seen.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(torch[i][j], 5)));
    opt.step([null], 0.1); // no gradient: untouched, as PyTorch skips a parameter whose .grad is None
    expect(p.dataSync()[0]).toBeCloseTo(0.818574, 5);
    opt.dispose();
    p.dispose();
  });

  it('Adam lr 0.01 (torch.optim.Adam trajectory), and no leaked tensors', () => {
    const before = tf.memory().numTensors;
    const p = tf.tidy(() => tf.variable(tf.tensor1d([1, -2])));
    const opt = new Adam([p], 0.01);
    const torch = [
      [0.99, -2.01],
      [0.986544, -2.019178],
      [0.9811, -2.024015],
    ];
    grads.forEach((g, i) => {
      const t = tf.tensor1d(g);
      opt.step([t]);
      t.dispose();
      Array.from(p.dataSync()).forEach((x, j) => expect(x).toBeCloseTo(torch[i][j], 5));
    });
    opt.dispose();
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gradientsOf aligns gradients with variables and gives null where f does not depend on one', () => {
    const a = tf.tidy(() => tf.variable(tf.scalar(3)));
    const b = tf.tidy(() => tf.variable(tf.scalar(4)));
    const { value, grads } = gradientsOf(() => tf.square(a) as tf.Scalar, [a, b]);
    expect(val(value)).toBe(9);
    expect(val(grads[0]!)).toBe(6);
    expect(grads[1]).toBeNull();
    tf.dispose([a, b, value, grads[0]!]);
  });
});
