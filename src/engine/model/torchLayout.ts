/**
 * How a model's TF.js weights line up with PyTorch state_dict keys: the roles of each layer kind's weights, and the
 * layout permutations (conv weight [O, I, kh, kw] <-> [kh, kw, I, O]; linear weight [O, I] <-> [I, O]; BatchNorm
 * (weight, bias, running_mean, running_var) <-> (gamma, beta, movingMean, movingVariance)). Shared by loading
 * (stateDictLoad.ts) and export (stateDictExport.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { type ArchInfo, torchKeyMap } from './architectures';
import type { TorchKind } from './resnet';

const ROLES: Record<TorchKind, string[]> = {
  // PyTorch suffixes in the order layer.weights holds them (conv: kernel; BN: gamma, beta, moving mean/variance)
  conv: ['weight'],
  bn: ['weight', 'bias', 'running_mean', 'running_var'],
  linear: ['weight', 'bias'],
};

/** Permutation from the TF.js layout to PyTorch's (undefined: same layout). */
export function toTorchPerm(kind: TorchKind, suffix: string): number[] | undefined {
  if (suffix !== 'weight' || kind === 'bn') return undefined;
  return kind === 'conv' ? [3, 2, 0, 1] : [1, 0];
}

export const fromTorchPerm = (kind: TorchKind, suffix: string) => (kind === 'conv' && suffix === 'weight' ? [2, 3, 1, 0] : toTorchPerm(kind, suffix));

/** Every PyTorch key the model's weights map to, with the layer, the weight index and the PyTorch shape. */
export function expectedKeys(model: tf.LayersModel, info: ArchInfo) {
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

