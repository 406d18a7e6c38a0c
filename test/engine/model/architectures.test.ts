import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ArchInfo, buildArchitecture } from '../../../src/engine/model/architectures';
import { architectureOf, groupOutputs } from '../../../src/engine/model/introspect';
import { detectArchitecture, expectedTorchShapes } from '../../../src/engine/model/stateDictCheck';
import { stateDictFromModel } from '../../../src/engine/model/stateDictExport';
import { modelFromStateDict } from '../../../src/engine/model/stateDictLoad';
import { modelFromArtifacts, modelToArtifacts } from '../../../src/engine/model/io';
import { BENCHMARK_KEYS, RESNET18_CIFAR10 } from '../../../src/engine/model/resnet';
import type { StateDict } from '../../../src/engine/model/torchWeights';
import { CIFAR10_MEAN, CIFAR10_STD } from '../../../src/engine/data/cifar10';
import { forward, WRN_16_1 } from '../../../src/engine/model/wrn';
import { wrnGroupOutputs } from '../../../src/engine/defense/baselines';
import { loadFixture, repoRoot } from '../../helpers/fixtures';

const NORM = { mean: [...CIFAR10_MEAN], std: [...CIFAR10_STD] };
const small = (width: number, finalBn = false) => ({ ...RESNET18_CIFAR10, width, finalBn });
const SMALL: ArchInfo[] = [
  { arch: 'wrn', config: { ...WRN_16_1, depth: 10 }, keys: BENCHMARK_KEYS },
  { arch: 'resnet18', config: small(4), keys: BENCHMARK_KEYS },
  { arch: 'preactresnet18', config: small(4), keys: BENCHMARK_KEYS },
  { arch: 'preactresnet18', config: small(4, true), keys: BENCHMARK_KEYS },
];
const label = (i: ArchInfo) => `${i.arch}${i.arch !== 'wrn' && i.config.finalBn ? '+bn' : ''}`;

/** Renames keys: `f(key)` -> new key. */
const rename = (sd: StateDict, f: (k: string) => string): StateDict => new Map([...sd].map(([k, v]) => [f(k), v]));

/** Non-trivial BN statistics and affine parameters (a fresh model has unit/zero BN, hiding layout mistakes). */
function randomizeBn(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const n = layer.weights[0].shape[0] as number;
    const v = [tf.randomUniform([n], 0.5, 1.5, 'float32', seed++), tf.randomUniform([n], -0.2, 0.2, 'float32', seed++),
      tf.randomUniform([n], -0.3, 0.3, 'float32', seed++), tf.randomUniform([n], 0.5, 2, 'float32', seed++)];
    layer.setWeights(v);
    tf.dispose(v);
  }
}

async function predict(model: tf.LayersModel, x: tf.Tensor4D): Promise<number[]> {
  const { features, logits } = forward(model, x);
  const out = [...(await features.data()), ...(await logits.data())];
  tf.dispose([features, logits]);
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('detectArchitecture', () => {
  it.each([
    ['resnet18_w8.safetensors', 'resnet18', 'ResNet-18 (width 8), 10 classes, 176.4 k parameters'],
    ['preactresnet18_w4.safetensors', 'preactresnet18', 'PreAct-ResNet-18 (width 4), 10 classes, 44.4 k parameters'],
    ['preactresnet18_w4_bn.safetensors', 'preactresnet18', 'PreAct-ResNet-18 (width 4, final BN), 43 classes, 45.6 k parameters'],
    ['wrn16_1.safetensors', 'wrn', 'WRN-16-1, 10 classes, 175.1 k parameters'],
  ])('recognises %s', (file, arch, description) => {
    const { sd } = loadFixture(file);
    expect(detectArchitecture(sd)).toMatchObject({ arch, description });
  });

  it('accepts module., downsample and fc spellings and loads them to the same predictions', async () => {
    const { sd } = loadFixture('resnet18_w8.safetensors');
    const alt = rename(sd, (k) => `module.${k.replace('.shortcut.', '.downsample.').replace(/^linear\./, 'fc.')}`);
    expect(detectArchitecture(alt)).toMatchObject({ arch: 'resnet18', keys: { shortcut: 'downsample', head: 'fc' }, config: { width: 8 } });
    const a = modelFromStateDict(sd, NORM);
    const b = modelFromStateDict(alt, NORM);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    expect(await predict(b.model, x)).toEqual(await predict(a.model, x));
    const back = await stateDictFromModel(b.model, b);
    expect(back.has('layer2.0.downsample.1.running_var') && back.has('fc.weight') && !back.has('linear.weight')).toBe(true);
    tf.dispose(x);
    a.model.dispose();
    b.model.dispose();
  });

  it('says what it expected and what it found for an unknown architecture', () => {
    const vgg: StateDict = new Map([['features.0.weight', { dtype: 'F32', shape: [64, 3, 3, 3], data: new Float32Array(1728) }]]);
    expect(() => detectArchitecture(vgg)).toThrow(/unrecognized state_dict: expected the keys of a WRN-d-k.*ResNet-18.*PreAct-ResNet-18.*found 1 keys: features\.0\.weight/);
  });

  it('names the near misses: ImageNet stem, deeper ResNets, bottlenecks, no classifier', () => {
    const { sd } = loadFixture('resnet18_w8.safetensors');
    const stem = new Map(sd).set('conv1.weight', { dtype: 'F32', shape: [8, 3, 7, 7], data: new Float32Array(8 * 3 * 49) });
    expect(() => detectArchitecture(stem)).toThrow(/7x7 stem is the ImageNet variant/);
    const deeper = new Map(sd).set('layer1.2.conv1.weight', sd.get('layer1.1.conv1.weight')!);
    expect(() => detectArchitecture(deeper)).toThrow(/\[3, 2, 2, 2\] blocks per stage/);
    const bottleneck = new Map(sd).set('layer1.0.conv3.weight', sd.get('layer1.0.conv1.weight')!);
    expect(() => detectArchitecture(bottleneck)).toThrow(/bottleneck/);
    const headless = rename(sd, (k) => k.replace(/^linear\./, 'classifier.'));
    expect(() => detectArchitecture(headless)).toThrow(/linear\.weight or fc\.weight/);
  });
});

describe('modelFromStateDict checks every tensor', () => {
  const { sd } = loadFixture('preactresnet18_w4.safetensors');

  it('reports a mismatched shape with expected and got', () => {
    const bad = new Map(sd).set('layer3.1.conv2.weight', { dtype: 'F32', shape: [16, 16, 3, 1], data: new Float32Array(16 * 16 * 3) });
    expect(() => modelFromStateDict(bad, NORM)).toThrow(/layer3\.1\.conv2\.weight has shape \[16, 16, 3, 1\], expected \[16, 16, 3, 3\]/);
  });

  it('reports missing and unexpected keys (num_batches_tracked is optional)', () => {
    const bad = new Map([...sd].filter(([k]) => k !== 'layer4.0.bn2.running_var' && !k.endsWith('num_batches_tracked')));
    bad.set('layer4.0.extra.weight', sd.get('linear.bias')!);
    expect(() => modelFromStateDict(bad, NORM)).toThrow(/missing keys: layer4\.0\.bn2\.running_var; unexpected keys: layer4\.0\.extra\.weight/);
  });

  it('rejects integer weights, NaN and mean/std that do not fit the channels', () => {
    const n = sd.get('linear.bias')!.data.length;
    const int = new Map(sd).set('linear.bias', { dtype: 'I64', shape: [n], data: new Int32Array(n) });
    expect(() => modelFromStateDict(int, NORM)).toThrow(/linear\.bias is I64, expected a float tensor/);
    const nan = new Float32Array(sd.get('linear.bias')!.data as Float32Array);
    nan[2] = NaN;
    expect(() => modelFromStateDict(new Map(sd).set('linear.bias', { dtype: 'F32', shape: [n], data: nan }), NORM)).toThrow(/linear\.bias contains NaN/);
    expect(() => modelFromStateDict(sd, { mean: [0.5], std: [0.5] })).toThrow(/3-channel images but mean\/std have 1\/1 values/);
  });

  it('leaks no tensors when it fails', () => {
    const before = tf.memory().numTensors;
    const bad = new Map(sd).set('linear.weight', { dtype: 'F32', shape: [10, 16], data: new Float32Array(160) });
    expect(() => modelFromStateDict(bad, NORM)).toThrow(/linear\.weight has shape \[10, 16\], expected \[10, 32\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('expectedTorchShapes', () => {
  it.each(SMALL.map((i) => [label(i), i] as const))('%s: the shapes a built model exports, computed without building one', async (_, info) => {
    for (const keys of [BENCHMARK_KEYS, { shortcut: 'downsample', head: 'fc' } as const]) {
      const model = buildArchitecture(info);
      const sd = await stateDictFromModel(model, { keys });
      model.dispose();
      const built = [...sd].filter(([k]) => !k.endsWith('num_batches_tracked')).map(([k, t]) => [k, t.shape] as const);
      const computed = [...expectedTorchShapes({ ...info, keys: info.arch === 'wrn' ? BENCHMARK_KEYS : keys } as ArchInfo)];
      expect(new Map(computed)).toEqual(new Map(built));
    }
  });
});

describe('stateDictFromModel', () => {
  it.each(SMALL.map((i) => [label(i), i] as const))('%s: model -> state_dict -> model gives identical predictions', async (_, info) => {
    const model = buildArchitecture(info, 7);
    randomizeBn(model, 100);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const want = await predict(model, x);
    const before = tf.memory().numTensors;
    for (const keys of [BENCHMARK_KEYS, { shortcut: 'downsample', head: 'fc' } as const]) {
      const sd = await stateDictFromModel(model, { arch: info.arch, keys });
      const loaded = modelFromStateDict(sd, NORM);
      expect(loaded.arch).toBe(info.arch);
      expect(await predict(loaded.model, x)).toEqual(want);
      loaded.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    model.dispose();
  });

  it('writes the full-width PyTorch keys and shapes, num_batches_tracked included', async () => {
    const torch = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/golden/fixtures/resnet_keys.json'), 'utf8')) as Record<string, Array<[string, number[]]>>;
    const full: Array<[string, ArchInfo, string]> = [
      ['resnet18', { arch: 'resnet18', config: RESNET18_CIFAR10, keys: BENCHMARK_KEYS }, 'ResNet-18, 10 classes, 11.17 M parameters'],
      ['preactresnet18', { arch: 'preactresnet18', config: RESNET18_CIFAR10, keys: BENCHMARK_KEYS }, 'PreAct-ResNet-18, 10 classes, 11.17 M parameters'],
      ['preactresnet18_bn', { arch: 'preactresnet18', config: small(64, true), keys: BENCHMARK_KEYS }, 'PreAct-ResNet-18 (final BN), 10 classes, 11.17 M parameters'],
      ['wrn16_1', { arch: 'wrn', config: WRN_16_1, keys: BENCHMARK_KEYS }, 'WRN-16-1, 10 classes, 175.1 k parameters'],
    ];
    for (const [name, info, description] of full) {
      const model = buildArchitecture(info);
      const sd = await stateDictFromModel(model);
      model.dispose();
      expect([...sd].map(([k, t]) => [k, t.shape]), name).toEqual(torch[name]);
      expect(sd.get(name === 'wrn16_1' ? 'bn1.num_batches_tracked' : 'layer1.0.bn1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
      expect(detectArchitecture(sd).description).toBe(description);
    }
  });

  it('refuses a model of another architecture or an unknown one', async () => {
    const model = buildArchitecture(SMALL[1]);
    await expect(stateDictFromModel(model, { arch: 'preactresnet18' })).rejects.toThrow(/asked for a preactresnet18 state_dict, but the model is a resnet18/);
    const input = tf.input({ shape: [8, 8, 3] });
    const other = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor });
    expect(architectureOf(other)).toBeNull();
    await expect(stateDictFromModel(other)).rejects.toThrow(/expected a WRN, ResNet-18 or PreAct-ResNet-18/);
    expect(() => groupOutputs(other)).toThrow(/unknown layer names/);
    model.dispose();
    other.dispose();
  });
});

describe('architectureOf and groupOutputs', () => {
  it.each(SMALL.map((i) => [label(i), i] as const))('%s: recognised after a LayersModel save/load, with stage feature maps', async (_, info) => {
    const model = buildArchitecture({ ...info, config: { ...info.config, mean: [0.1, 0.2, 0.3], std: [0.4, 0.5, 0.6] } } as ArchInfo);
    const back = await modelFromArtifacts(await modelToArtifacts(model));
    const found = architectureOf(back)!;
    expect(found.arch).toBe(info.arch);
    expect(found.config).toMatchObject({ ...info.config, mean: [0.1, 0.2, 0.3], std: [0.4, 0.5, 0.6] });
    const groups = groupOutputs(back);
    expect(groups).toHaveLength(3);
    const shapes = groups.map((g) => back.getLayer(g).output as tf.SymbolicTensor).map((o) => o.shape.slice(1));
    const w = info.arch === 'wrn' ? 16 : 4;
    const ch = info.arch === 'wrn' ? [w, 2 * w, 4 * w] : [2 * w, 4 * w, 8 * w];
    expect(shapes).toEqual(info.arch === 'wrn' ? [[32, 32, ch[0]], [16, 16, ch[1]], [8, 8, ch[2]]] : [[16, 16, ch[0]], [8, 8, ch[1]], [4, 4, ch[2]]]);
    if (info.arch === 'wrn') expect(groups).toEqual(wrnGroupOutputs(back));
    model.dispose();
    back.dispose();
  });
});
