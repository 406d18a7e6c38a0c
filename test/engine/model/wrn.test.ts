import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelFromArtifacts, modelToArtifacts, withFeatureOutputs } from '../../../src/engine/model/io';
import { blocksPerGroup, buildWrn, describeModel, forward, WRN_16_1 } from '../../../src/engine/model/wrn';
import { inferWrnConfig, wrnTorchKeys } from '../../../src/engine/model/torchWeights';
import { loadFixture } from '../../helpers/fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildWrn', () => {
  it('has the PyTorch parameter count and [features, logits] outputs', () => {
    const model = buildWrn(WRN_16_1, 1);
    const trainable = model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
    expect(trainable).toBe(175066); // sum(p.numel() for p in WideResNet(16, 1).parameters())
    expect(describeModel(model)).toMatchObject({ inputShape: [32, 32, 3], featureDim: 64, numClasses: 10 });
    const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
    const { features, logits } = forward(model, x);
    expect(features.shape).toEqual([2, 64]);
    expect(logits.shape).toEqual([2, 10]);
    tf.dispose([x, features, logits]);
    model.dispose();
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const [a, b, c] = [buildWrn(WRN_16_1, 3), buildWrn(WRN_16_1, 3), buildWrn(WRN_16_1, 4)];
    const k = (m: tf.LayersModel) => m.getLayer('block2_0_conv1').getWeights()[0].data();
    const [ka, kb, kc] = await Promise.all([k(a), k(b), k(c)]);
    expect(Array.from(ka)).toEqual(Array.from(kb));
    expect(Array.from(ka)).not.toEqual(Array.from(kc));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects depths that are not 6n+4', () => {
    expect(() => blocksPerGroup(15)).toThrow(/6n\+4/);
    expect(blocksPerGroup(28)).toBe(4);
  });

  it('training mode updates BatchNorm running statistics with momentum 0.1 and leaks no tensors', async () => {
    const model = buildWrn(WRN_16_1, 2);
    const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const bn = model.getLayer('block1_0_bn1');
    const before = await bn.getWeights()[2].data(); // moving mean, starts at 0
    expect(Array.from(before).every((v) => v === 0)).toBe(true);
    const n0 = tf.memory().numTensors;
    tf.tidy(() => {
      forward(model, x, true);
    });
    expect(tf.memory().numTensors).toBe(n0);
    // Expected: 0.9 * 0 + 0.1 * batch mean of the stem conv output (the block's input).
    const stem = tf.model({ inputs: model.inputs, outputs: model.getLayer('conv1').output as tf.SymbolicTensor });
    const m = tf.tidy(() => tf.mean(stem.predict(x) as tf.Tensor, [0, 1, 2]).mul(0.1));
    const after = await bn.getWeights()[2].data();
    const want = await m.data();
    for (let i = 0; i < want.length; i++) expect(after[i]).toBeCloseTo(want[i], 5);
    tf.dispose([x, m]);
    model.dispose();
  });
});

describe('model artifacts', () => {
  it('round-trips through the LayersModel format with identical outputs', async () => {
    const model = buildWrn({ ...WRN_16_1, depth: 10 }, 5);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const art = await modelToArtifacts(model);
    const back = await modelFromArtifacts(art);
    const a = forward(model, x).logits;
    const b = forward(back, x).logits;
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([x, a, b]);
    model.dispose();
    back.dispose();
  });

  it('refuses NaN weights and graph models with a clear message', async () => {
    const model = buildWrn({ ...WRN_16_1, depth: 10 }, 5);
    const art = await modelToArtifacts(model);
    const w = new Float32Array((art.weightData as ArrayBuffer).slice(0));
    w[3] = NaN;
    await expect(modelFromArtifacts({ ...art, weightData: w.buffer })).rejects.toThrow(/NaN or infinite/);
    await expect(modelFromArtifacts({ ...art, modelTopology: undefined })).rejects.toThrow(/LayersModel/);
    model.dispose();
  });

  it('gives a single-output classifier a feature output from its Dense head', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const f = tf.layers.globalAveragePooling2d({}).apply(tf.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(f) as tf.SymbolicTensor });
    const wrapped = withFeatureOutputs(m);
    expect(wrapped.outputs.map((o) => o.shape)).toEqual([[null, 4], [null, 3]]);
    m.dispose();
  });
});

describe('PyTorch key mapping', () => {
  it('covers every key of the reference state_dict exactly', () => {
    const { sd } = loadFixture('wrn16_1.safetensors');
    const cfg = inferWrnConfig(sd);
    expect(cfg).toMatchObject({ depth: 16, widen: 1, numClasses: 10 });
    const mapped = new Set<string>();
    for (const { prefix, kind } of wrnTorchKeys(cfg).values()) {
      const suffixes = kind === 'bn' ? ['weight', 'bias', 'running_mean', 'running_var'] : kind === 'linear' ? ['weight', 'bias'] : ['weight'];
      for (const s of suffixes) mapped.add(`${prefix}.${s}`);
    }
    expect([...mapped].sort()).toEqual([...sd.keys()].sort());
  });

  it('names what is missing from a non-WRN state_dict', () => {
    expect(() => inferWrnConfig(new Map([['layer1.0.conv1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]))).toThrow(/not a WideResNet state_dict/);
  });
});
