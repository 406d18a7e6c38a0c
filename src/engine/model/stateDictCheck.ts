/**
 * Reading a PyTorch state_dict before anything is built: which registered architecture its keys and shapes are
 * ({@link detectArchitecture}), the shapes that architecture expects, and everything wrong with the tensors.
 */
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';
import { type ArchInfo, type DetectedArchitecture, describeArchitecture } from './architectures';
import { BENCHMARK_KEYS, detectResNet, resolveInputSize, type DetectOptions } from './resnet';
import { inferWrnConfig, stripModulePrefix, type StateDict } from './torchWeights';

const list = (xs: string[], n = 8) => xs.slice(0, n).join(', ') + (xs.length > n ? `, ... (${xs.length} in all)` : '');

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

