/**
 * Mapping between a PyTorch WRN state_dict (key names of tools/torchref/wrn.py, which follow the common backdoor
 * benchmarks' WideResNet) and the TF.js model of model/wrn.ts.
 *
 * Layout conversions: conv weight [O, I, kh, kw] -> [kh, kw, I, O]; linear weight [O, I] -> [I, O];
 * BatchNorm (weight, bias, running_mean, running_var) -> (gamma, beta, movingMean, movingVariance).
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../io/safetensors';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';
import { blocksPerGroup, buildWrn, wrnLayerName, type WrnConfig } from './wrn';

/** A state_dict: PyTorch key -> tensor. */
export type StateDict = Map<string, NamedTensor>;

type Kind = 'conv' | 'bn' | 'linear';

/** The PyTorch prefix and kind of every weighted layer of a WRN, keyed by TF.js layer name. */
export function wrnTorchKeys(cfg: Pick<WrnConfig, 'depth' | 'widen'>): Map<string, { prefix: string; kind: Kind }> {
  const n = blocksPerGroup(cfg.depth);
  const ch = [16, 16 * cfg.widen, 32 * cfg.widen, 64 * cfg.widen];
  const m = new Map<string, { prefix: string; kind: Kind }>();
  m.set(wrnLayerName.stem, { prefix: 'conv1', kind: 'conv' });
  for (let g = 1; g <= 3; g++) {
    for (let i = 0; i < n; i++) {
      const p = `block${g}.layer.${i}`;
      m.set(wrnLayerName.block(g, i, 'bn1'), { prefix: `${p}.bn1`, kind: 'bn' });
      m.set(wrnLayerName.block(g, i, 'conv1'), { prefix: `${p}.conv1`, kind: 'conv' });
      m.set(wrnLayerName.block(g, i, 'bn2'), { prefix: `${p}.bn2`, kind: 'bn' });
      m.set(wrnLayerName.block(g, i, 'conv2'), { prefix: `${p}.conv2`, kind: 'conv' });
      const cin = i === 0 ? ch[g - 1] : ch[g];
      if (i === 0 && (cin !== ch[g] || g > 1)) m.set(wrnLayerName.block(g, i, 'shortcut'), { prefix: `${p}.convShortcut`, kind: 'conv' });
    }
  }
  m.set(wrnLayerName.finalBn, { prefix: 'bn1', kind: 'bn' });
  m.set(wrnLayerName.fc, { prefix: 'fc', kind: 'linear' });
  return m;
}

/** Removes a leading 'module.' (DataParallel) from every key. */
export function stripModulePrefix(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) out.set(k.startsWith('module.') ? k.slice(7) : k, v);
  return out;
}

/**
 * Reads depth, width and class count off a WRN state_dict.
 * @throws Error naming what is missing when the keys are not those of a WRN
 */
export function inferWrnConfig(sd: StateDict, mean = [...CIFAR10_MEAN], std = [...CIFAR10_STD]): WrnConfig {
  const stem = sd.get('conv1.weight');
  const first = sd.get('block1.layer.0.conv1.weight');
  const fc = sd.get('fc.weight');
  if (!stem || !first || !fc) {
    const seen = [...sd.keys()].slice(0, 5).join(', ');
    throw new Error(`not a WideResNet state_dict: expected keys conv1.weight, block1.layer.0.conv1.weight and fc.weight (found ${seen}${sd.size > 5 ? ', ...' : ''})`);
  }
  let n = 0;
  while (sd.has(`block1.layer.${n}.conv1.weight`)) n++;
  const widen = first.shape[0] / 16;
  if (!Number.isInteger(widen) || widen < 1) throw new Error(`WRN: block1 has ${first.shape[0]} channels, expected a multiple of 16`);
  if (stem.shape.length !== 4 || stem.shape[2] !== stem.shape[3]) throw new Error(`WRN: conv1.weight has shape [${stem.shape}], expected [16, C, 3, 3]`);
  return { depth: 6 * n + 4, widen, numClasses: fc.shape[0], inputShape: [32, 32, stem.shape[1]], mean, std };
}

function toTf(t: NamedTensor, kind: Kind, role: string, key: string): tf.Tensor {
  if (!(t.data instanceof Float32Array)) throw new Error(`${key}: expected a float tensor, got ${t.dtype}`);
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) throw new Error(`${key}: contains NaN or infinite values; the model file is damaged`);
  }
  const x = tf.tensor(t.data, t.shape, 'float32');
  if (kind === 'conv' && role === 'kernel') return tf.tidy(() => tf.transpose(x, [2, 3, 1, 0]));
  if (kind === 'linear' && role === 'kernel') return tf.tidy(() => tf.transpose(x, [1, 0]));
  return x;
}

const ROLES: Record<Kind, Array<[string, string]>> = {
  // [TF.js weight role, PyTorch key suffix] in the order layer.getWeights() returns them
  conv: [['kernel', 'weight']],
  bn: [['gamma', 'weight'], ['beta', 'bias'], ['moving_mean', 'running_mean'], ['moving_variance', 'running_var']],
  linear: [['kernel', 'weight'], ['bias', 'bias']],
};

/**
 * Copies a PyTorch state_dict into a TF.js WRN, checking every shape.
 * @throws Error naming the first missing key or mismatched shape
 */
export function loadTorchStateDict(model: tf.LayersModel, cfg: WrnConfig, sd: StateDict): void {
  const keys = wrnTorchKeys(cfg);
  for (const [layerName, { prefix, kind }] of keys) {
    const layer = model.getLayer(layerName);
    const current = layer.getWeights();
    const fresh = ROLES[kind].map(([role, suffix], j) => {
      const key = `${prefix}.${suffix}`;
      const t = sd.get(key);
      if (!t) throw new Error(`state_dict is missing ${key} (needed by a ${cfg.depth}-${cfg.widen} WideResNet)`);
      const v = toTf(t, kind, role, key);
      const want = current[j].shape;
      if (v.shape.join() !== want.join()) {
        v.dispose();
        throw new Error(`${key}: shape [${t.shape}] does not fit layer ${layerName} (expects [${want}] after layout conversion)`);
      }
      return v;
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

/** Builds a WRN from a state_dict (architecture inferred from its keys and shapes). */
export function wrnFromStateDict(sdIn: StateDict, mean = [...CIFAR10_MEAN], std = [...CIFAR10_STD]): { model: tf.LayersModel; config: WrnConfig } {
  const sd = stripModulePrefix(sdIn);
  const config = inferWrnConfig(sd, mean, std);
  const model = buildWrn(config);
  try {
    loadTorchStateDict(model, config, sd);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, config };
}
