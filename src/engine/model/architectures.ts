/**
 * The architectures users can upload as PyTorch state_dicts, in one registry: WRN-d-k (model/wrn.ts), CIFAR
 * ResNet-18 and PreAct-ResNet-18 (model/resnet.ts). Detection reads the architecture off the keys and shapes;
 * loading checks every tensor; export writes the PyTorch keys back so `load_state_dict(strict=True)` accepts them.
 *
 * Layout conversions: conv weight [O, I, kh, kw] <-> [kh, kw, I, O]; linear weight [O, I] <-> [I, O];
 * BatchNorm (weight, bias, running_mean, running_var) <-> (gamma, beta, movingMean, movingVariance).
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../io/safetensors';
import { PixelNormalization } from './normalize';
import {
  BENCHMARK_KEYS, buildPreActResNet18, buildResNet18, detectResNet, resnetLayerName, resnetTorchKeys, resolveInputSize,
  type DetectOptions, type KeyStyle, type ResNetConfig, type TorchKind,
} from './resnet';
import { inferWrnConfig, stripModulePrefix, wrnTorchKeys, type StateDict } from './torchWeights';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';
import { buildWrn, wrnLayerName, type WrnConfig } from './wrn';

export type { DetectOptions, KeyStyle } from './resnet';

/** The architectures the engine can rebuild from a PyTorch state_dict. */
export type ArchName = 'wrn' | 'resnet18' | 'preactresnet18';

/** An architecture with its configuration and the PyTorch key spellings its state_dict uses. */
export type ArchInfo =
  | { arch: 'wrn'; config: WrnConfig; keys: KeyStyle }
  | { arch: 'resnet18' | 'preactresnet18'; config: ResNetConfig; keys: KeyStyle };

/** What {@link detectArchitecture} found, with a description such as "PreAct-ResNet-18, 10 classes, 11.17 M parameters". */
export type DetectedArchitecture = ArchInfo & { description: string };

/** A model rebuilt from a state_dict. */
export type LoadedModel = DetectedArchitecture & { model: tf.LayersModel; params: number };

/** The registry: a label and a builder per architecture. */
export const ARCHITECTURES: { [A in ArchName]: { label: string; build: (config: Extract<ArchInfo, { arch: A }>['config'], seed?: number) => tf.LayersModel } } = {
  wrn: { label: 'WRN-d-k', build: buildWrn },
  resnet18: { label: 'ResNet-18', build: buildResNet18 },
  preactresnet18: { label: 'PreAct-ResNet-18', build: buildPreActResNet18 },
};

/** Builds a freshly initialized model of the given architecture. */
export function buildArchitecture(info: ArchInfo, seed = 0): tf.LayersModel {
  if (info.arch === 'wrn') return buildWrn(info.config, seed);
  return info.arch === 'resnet18' ? buildResNet18(info.config, seed) : buildPreActResNet18(info.config, seed);
}

/** TF.js layer name -> PyTorch prefix and kind, in PyTorch's state_dict order. */
export function torchKeyMap(info: ArchInfo): Map<string, { prefix: string; kind: TorchKind }> {
  return info.arch === 'wrn' ? wrnTorchKeys(info.config) : resnetTorchKeys(info.arch === 'preactresnet18', info.config, info.keys);
}

const list = (xs: string[], n = 8) => xs.slice(0, n).join(', ') + (xs.length > n ? `, ... (${xs.length} in all)` : '');

/** "11.17 M parameters" / "175.1 k parameters". */
function formatParams(p: number): string {
  return p >= 1e6 ? `${(p / 1e6).toFixed(2)} M parameters` : `${(p / 1e3).toFixed(1)} k parameters`;
}

/** The architecture's name with its variant: "WRN-16-1", "ResNet-18 (width 8)", "PreAct-ResNet-18 (final BN)". */
export function architectureName(info: ArchInfo): string {
  if (info.arch === 'wrn') return `WRN-${info.config.depth}-${info.config.widen}`;
  const variant = [info.config.width !== 64 ? `width ${info.config.width}` : '', info.arch === 'preactresnet18' && info.config.finalBn ? 'final BN' : ''].filter(Boolean);
  return ARCHITECTURES[info.arch].label + (variant.length ? ` (${variant.join(', ')})` : '');
}

/** A one-line human description: name, variant, classes and parameter count. */
export function describeArchitecture(info: ArchInfo, params: number): string {
  return `${architectureName(info)}, ${info.config.numClasses} classes, ${formatParams(params)}`;
}

const EXPECTED =
  'expected the keys of a WRN-d-k (conv1.weight, block1.layer.0.conv1.weight, fc.weight), ' +
  'a ResNet-18 (conv1.weight, bn1.weight, layer1.0.conv1.weight, layer1.0.bn1.weight, linear.weight or fc.weight) ' +
  'or a PreAct-ResNet-18 (conv1.weight, layer1.0.bn1.weight, layer1.0.conv1.weight, optional bn.weight, linear.weight or fc.weight)';

/**
 * Reads the architecture off a state_dict's keys and shapes (a leading `module.` is ignored; `shortcut`/`downsample`
 * and `linear`/`fc` are both accepted).
 * @throws Error saying what keys were expected and which were found, or why a near miss is unsupported
 */
export function detectArchitecture(sd: StateDict, opts: DetectOptions = {}): DetectedArchitecture {
  const stripped = stripModulePrefix(sd);
  const stem = stripped.get('conv1.weight');
  if (stem && (stem.shape.length !== 4 || stem.shape[1] < 1 || stem.shape[1] > 4)) {
    throw new Error(`conv1.weight has shape [${stem.shape.join(', ')}], expected [out channels, 3 (RGB; 1-4 image channels), k, k]${stem.shape.length === 4 && stem.shape[0] <= 4 ? ' (is it transposed?)' : ''}`);
  }
  for (const [name, v] of [['mean', opts.mean], ['std', opts.std]] as const) {
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (name === 'mean' || x > 0)))) {
      throw new Error(`the input normalization's ${name} is ${JSON.stringify(v)}, expected one ${name === 'std' ? 'positive ' : ''}number per image channel`);
    }
  }
  let info: ArchInfo;
  if (stripped.has('block1.layer.0.conv1.weight')) {
    const config = inferWrnConfig(stripped, opts.mean ?? [...CIFAR10_MEAN], opts.std ?? [...CIFAR10_STD]);
    config.inputShape = [...resolveInputSize(opts.inputSize), config.inputShape[2]];
    info = { arch: 'wrn', config, keys: BENCHMARK_KEYS };
  } else {
    const r = detectResNet(stripped, opts);
    if (!r) throw new Error(`unrecognized state_dict: ${EXPECTED}; found ${stripped.size} keys: ${list([...stripped.keys()])}`);
    info = { arch: r.preAct ? 'preactresnet18' : 'resnet18', config: r.config, keys: r.keys };
  }
  const { mean, std, inputShape } = info.config;
  if (mean.length !== inputShape[2] || std.length !== inputShape[2]) {
    throw new Error(`the model takes ${inputShape[2]}-channel images but mean/std have ${mean.length}/${std.length} values`);
  }
  let params = 0;
  for (const [k, t] of stripped) if (!/(running_mean|running_var|num_batches_tracked)$/.test(k)) params += t.data.length;
  return { ...info, description: describeArchitecture(info, params) };
}

/**
 * The PyTorch shape of every key an architecture's state_dict holds (BN num_batches_tracked aside), computed from
 * its config alone, so a state_dict can be checked before anything is built (a 1 KB file declaring 640 channels
 * must not build an 859 MB model first).
 */
export function expectedTorchShapes(info: ArchInfo): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const c = info.config.inputShape[2];
  const classes = info.config.numClasses;
  const conv = (prefix: string, o: number, i: number, k: number) => out.set(`${prefix}.weight`, [o, i, k, k]);
  const bn = (prefix: string, n: number) => ['weight', 'bias', 'running_mean', 'running_var'].forEach((s) => out.set(`${prefix}.${s}`, [n]));
  const head = (prefix: string, features: number) => {
    out.set(`${prefix}.weight`, [classes, features]);
    out.set(`${prefix}.bias`, [classes]);
  };
  if (info.arch === 'wrn') {
    const n = (info.config.depth - 4) / 6;
    const ch = [16, 16 * info.config.widen, 32 * info.config.widen, 64 * info.config.widen];
    conv('conv1', ch[0], c, 3);
    for (let g = 1; g <= 3; g++) {
      for (let i = 0; i < n; i++) {
        const p = `block${g}.layer.${i}`;
        const cin = i === 0 ? ch[g - 1] : ch[g];
        bn(`${p}.bn1`, cin);
        conv(`${p}.conv1`, ch[g], cin, 3);
        bn(`${p}.bn2`, ch[g]);
        conv(`${p}.conv2`, ch[g], ch[g], 3);
        if (i === 0 && (cin !== ch[g] || g > 1)) conv(`${p}.convShortcut`, ch[g], cin, 1);
      }
    }
    bn('bn1', ch[3]);
    head('fc', ch[3]);
    return out;
  }
  const preAct = info.arch === 'preactresnet18';
  const w = info.config.width;
  const ch = [w, 2 * w, 4 * w, 8 * w];
  conv('conv1', w, c, 3);
  if (!preAct) bn('bn1', w);
  let cin = w;
  for (let s = 1; s <= 4; s++) {
    for (let i = 0; i < 2; i++) {
      const p = `layer${s}.${i}`;
      const cout = ch[s - 1];
      bn(`${p}.bn1`, preAct ? cin : cout);
      conv(`${p}.conv1`, cout, cin, 3);
      bn(`${p}.bn2`, cout);
      conv(`${p}.conv2`, cout, cout, 3);
      if ((i === 0 && s > 1) || cin !== cout) {
        conv(`${p}.${info.keys.shortcut}.0`, cout, cin, 1);
        if (!preAct) bn(`${p}.${info.keys.shortcut}.1`, cout);
      }
      cin = cout;
    }
  }
  if (preAct && info.config.finalBn) bn('bn', ch[3]);
  head(info.keys.head, ch[3]);
  return out;
}

/**
 * Everything wrong with a state_dict for an architecture, checked on the tensors alone: missing and unexpected
 * keys, shapes, dtypes, non-finite values, negative BN variances. Empty when it fits.
 */
export function stateDictProblems(sd: StateDict, info: ArchInfo): string[] {
  const expected = expectedTorchShapes(info);
  const problems: string[] = [];
  const missing = [...expected.keys()].filter((k) => !sd.has(k));
  const unexpected = [...sd.keys()].filter((k) => !expected.has(k) && !k.endsWith('num_batches_tracked'));
  for (const [key, shape] of expected) {
    const t = sd.get(key);
    if (!t) continue;
    if (t.shape.join() !== shape.join()) problems.push(`${key} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    else if (!(t.data instanceof Float32Array)) problems.push(`${key} is ${t.dtype}, expected a float tensor`);
    else if (!t.data.every(Number.isFinite)) problems.push(`${key} contains NaN or infinite values (damaged file?)`);
    else if (key.endsWith('running_var') && t.data.some((v) => v < 0)) problems.push(`${key} holds negative values, but a variance cannot be negative (damaged file?)`);
  }
  if (missing.length) problems.push(`missing keys: ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected keys: ${list(unexpected)}`);
  return problems;
}

const ROLES: Record<TorchKind, string[]> = {
  // PyTorch suffixes in the order layer.weights holds them (conv: kernel; BN: gamma, beta, moving mean/variance)
  conv: ['weight'],
  bn: ['weight', 'bias', 'running_mean', 'running_var'],
  linear: ['weight', 'bias'],
};

/** Permutation from the TF.js layout to PyTorch's (undefined: same layout). */
function toTorchPerm(kind: TorchKind, suffix: string): number[] | undefined {
  if (suffix !== 'weight' || kind === 'bn') return undefined;
  return kind === 'conv' ? [3, 2, 0, 1] : [1, 0];
}

const fromTorchPerm = (kind: TorchKind, suffix: string) => (kind === 'conv' && suffix === 'weight' ? [2, 3, 1, 0] : toTorchPerm(kind, suffix));

/** Every PyTorch key the model's weights map to, with the layer, the weight index and the PyTorch shape. */
function expectedKeys(model: tf.LayersModel, info: ArchInfo) {
  const out = new Map<string, { layer: tf.layers.Layer; j: number; kind: TorchKind; suffix: string; shape: number[] }>();
  for (const [layerName, { prefix, kind }] of torchKeyMap(info)) {
    const layer = model.getLayer(layerName);
    ROLES[kind].forEach((suffix, j) => {
      const tfShape = layer.weights[j].shape as number[];
      const perm = toTorchPerm(kind, suffix);
      out.set(`${prefix}.${suffix}`, { layer, j, kind, suffix, shape: perm ? perm.map((p) => tfShape[p]) : tfShape });
    });
  }
  return out;
}

/**
 * Rebuilds a model from a PyTorch state_dict: detects the architecture, checks that every tensor has the expected
 * key, dtype, shape and finite values, and copies the weights in.
 * @param opts the normalization the model was trained with, and the input size (32 by default)
 * @throws Error listing the mismatched shapes (expected vs got), missing keys and unexpected keys
 */
export function modelFromStateDict(sdIn: StateDict, opts: DetectOptions & { mean: number[]; std: number[] }): LoadedModel {
  const sd = stripModulePrefix(sdIn);
  const detected = detectArchitecture(sd, opts);
  // Every tensor is checked before the model is built.
  const problems = stateDictProblems(sd, detected);
  if (problems.length) throw new Error(`state_dict does not fit a ${detected.description}: ${problems.slice(0, 12).join('; ')}`);
  const model = buildArchitecture(detected);
  try {
    const expected = expectedKeys(model, detected);
    const byLayer = new Map<tf.layers.Layer, tf.Tensor[]>();
    for (const [key, e] of expected) {
      const t = sd.get(key)!;
      const perm = fromTorchPerm(e.kind, e.suffix);
      const v = tf.tidy(() => {
        const x = tf.tensor(t.data as Float32Array, t.shape, 'float32');
        return perm ? tf.transpose(x, perm) : x;
      });
      if (!byLayer.has(e.layer)) byLayer.set(e.layer, []);
      byLayer.get(e.layer)![e.j] = v;
    }
    for (const [layer, values] of byLayer) {
      layer.setWeights(values);
      tf.dispose(values);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { ...detected, model, params: trainableParams(model) };
}

/** Parameters as PyTorch counts them (BN running statistics excluded). */
export function trainableParams(model: tf.LayersModel): number {
  return model.weights.filter((w) => !/moving_(mean|variance)$/.test(w.originalName)).reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/**
 * Recognises an engine-built model by its layer names and reads its architecture back (config from the layer
 * shapes and the normalization layer; key spellings default to the benchmark code's).
 * @returns null when the layer names are not those of a WRN, ResNet-18 or PreAct-ResNet-18
 */
export function architectureOf(model: tf.LayersModel): ArchInfo | null {
  const names = new Set(model.layers.map((l) => l.name));
  const filters = (name: string) => (model.getLayer(name).weights[0]?.shape[3] as number | undefined) ?? NaN;
  const [h, w, c] = model.inputs[0].shape.slice(1) as number[];
  const norm = names.has('normalize') ? model.getLayer('normalize') : undefined;
  const { mean, std } = norm instanceof PixelNormalization ? norm : { mean: new Array(c).fill(0), std: new Array(c).fill(1) };
  const numClasses = model.outputs[model.outputs.length - 1].shape[1] as number;
  const base = { numClasses, inputShape: [h, w, c] as [number, number, number], mean: [...mean], std: [...std] };
  if (names.has('block1_0_add') && names.has(wrnLayerName.fc)) {
    let n = 0;
    while (names.has(`block1_${n}_add`)) n++;
    const widen = filters(wrnLayerName.block(1, 0, 'conv1')) / 16;
    return { arch: 'wrn', config: { ...base, depth: 6 * n + 4, widen }, keys: BENCHMARK_KEYS };
  }
  if (names.has('layer4_1_add') && !names.has('layer1_2_add') && names.has(resnetLayerName.head)) {
    const preAct = !names.has(resnetLayerName.stemBn);
    const config: ResNetConfig = { ...base, width: filters(resnetLayerName.stem), finalBn: preAct && names.has(resnetLayerName.finalBn) };
    return { arch: preAct ? 'preactresnet18' : 'resnet18', config, keys: BENCHMARK_KEYS };
  }
  return null;
}

/**
 * Layers whose outputs are the per-stage feature maps [B, H, W, C] that NAD's attention uses: the three group
 * outputs of a WRN, the outputs of the last three stages of a ResNet.
 * @throws Error when the model is not one of the registered architectures
 */
export function groupOutputs(model: tf.LayersModel): string[] {
  const info = architectureOf(model);
  if (!info) throw new Error('groupOutputs: the model is not a WRN, ResNet-18 or PreAct-ResNet-18 built by this engine (unknown layer names)');
  if (info.arch === 'wrn') {
    const n = (info.config.depth - 4) / 6;
    return [1, 2, 3].map((g) => `block${g}_${n - 1}_add`);
  }
  return [2, 3, 4].map((s) => resnetLayerName.block(s, 1, info.arch === 'resnet18' ? 'out' : 'add'));
}

/**
 * Exports a model's weights as a PyTorch state_dict (float32 'F32' tensors in PyTorch layouts, plus BN
 * num_batches_tracked as 'I64' zeros, which load_state_dict(strict=True) requires). Reads with `await data()`.
 * @param info key spellings to use (defaults: the benchmark code's; the ones a loaded state_dict had come with
 *   {@link modelFromStateDict}'s result); `arch` must agree with the model when given
 * @throws Error when the model is not a registered architecture
 */
export async function stateDictFromModel(model: tf.LayersModel, info: { arch?: ArchName; keys?: KeyStyle } = {}): Promise<StateDict> {
  const found = architectureOf(model);
  if (!found) throw new Error('stateDictFromModel: expected a WRN, ResNet-18 or PreAct-ResNet-18 built by this engine; the layer names are not those of any of them');
  if (info.arch && info.arch !== found.arch) throw new Error(`stateDictFromModel: asked for a ${info.arch} state_dict, but the model is a ${found.arch}`);
  const arch: ArchInfo = { ...found, keys: { ...found.keys, ...info.keys } };
  const sd: StateDict = new Map();
  for (const [key, e] of expectedKeys(model, arch)) {
    const perm = toTorchPerm(e.kind, e.suffix);
    const v = e.layer.weights[e.j].read();
    const t = perm ? tf.transpose(v, perm) : v;
    const data = (await t.data()) as Float32Array;
    if (t !== v) t.dispose();
    sd.set(key, { dtype: 'F32', shape: e.shape, data: new Float32Array(data) });
    if (e.kind === 'bn' && e.suffix === 'running_var') {
      sd.set(key.replace(/running_var$/, 'num_batches_tracked'), { dtype: 'I64', shape: [], data: new Int32Array(1) } satisfies NamedTensor);
    }
  }
  return sd;
}
