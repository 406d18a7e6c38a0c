/**
 * Rebuilding a model from a PyTorch state_dict: detect the architecture, check every tensor, build, copy the
 * weights in (layouts converted, torchLayout.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { buildArchitecture, type LoadedModel } from './architectures';
import { trainableParams } from './introspect';
import type { DetectOptions } from './resnet';
import { detectArchitecture, stateDictProblems } from './stateDictCheck';
import { expectedKeys, fromTorchPerm } from './torchLayout';
import { stripModulePrefix, type StateDict } from './torchWeights';

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

