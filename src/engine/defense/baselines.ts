/**
 * The baselines' per-batch losses (MCLDef paper, Table 1), all on the same clean data, optimizer and schedule:
 *
 * - FT: cross-entropy fine-tuning.
 * - NC unlearning: cross-entropy where the first round(share * B) images of each (shuffled) batch carry the
 *   inverted trigger with their true label (share 0.2, as Neural Cleanse).
 * - NAD: student = CE + sum_g beta_g * attentionLoss(student_g, teacher_g) at the WRN group outputs, the teacher
 *   a fine-tuned copy in inference mode (betas 500, 1000, 1000 and p = 2: NAD's CIFAR-10 WRN-16-1 settings).
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../model/wrn';
import type { TriggerTensors } from './invert';
import { attentionLoss, crossEntropy } from './losses';
import type { StageLoss } from './train';

/** FT: mean CE of the trained model (training mode) on the augmented clean batch. */
export function ftStageLoss(model: tf.LayersModel): StageLoss {
  return {
    loss: (x, y) => {
      const ce = crossEntropy(forward(model, x, true).logits, y);
      return { loss: ce, parts: {} };
    },
  };
}

/** NC unlearning: the first round(share * B) images of the batch get the inverted trigger, labels unchanged. */
export function ncStageLoss(model: tf.LayersModel, trigger: TriggerTensors, share: number): StageLoss {
  return {
    prepare: (x) => {
      const b = x.shape[0];
      const k = Math.min(b, Math.round(share * b));
      if (k === 0) return [x.clone()];
      if (k === b) return [trigger.apply(x)];
      const [head, tail] = tf.split(x, [k, b - k], 0);
      return [tf.concat([trigger.apply(head as tf.Tensor4D), tail], 0)];
    },
    loss: (_x, y, [mixed]) => {
      const ce = crossEntropy(forward(model, mixed as tf.Tensor4D, true).logits, y);
      return { loss: ce, parts: {} };
    },
  };
}

/**
 * The attention layers of a WRN built by model/wrn.ts: the last block's output of each group
 * (block{g}_{n-1}_add for g = 1, 2, 3). Throws when the model does not have them.
 */
export function wrnGroupOutputs(model: tf.LayersModel): string[] {
  const last = new Map<number, number>();
  for (const layer of model.layers) {
    const m = /^block(\d+)_(\d+)_add$/.exec(layer.name);
    if (m) last.set(Number(m[1]), Math.max(last.get(Number(m[1])) ?? -1, Number(m[2])));
  }
  const groups = [...last.keys()].sort((a, b) => a - b);
  if (groups.length === 0) throw new Error('NAD: the model has no WRN group outputs (layers block{g}_{i}_add); name the attention layers in nad.layers');
  return groups.map((g) => `block${g}_${last.get(g)}_add`);
}

/**
 * A view of `model` whose outputs are [logits, ...activations at `layers`] ([B, H, W, C] each). It shares the
 * model's layers and weights: never dispose it (dispose the model).
 */
export function attentionView(model: tf.LayersModel, layers: string[]): tf.LayersModel {
  const outs = layers.map((name) => {
    let layer: tf.layers.Layer;
    try {
      layer = model.getLayer(name);
    } catch {
      throw new Error(`NAD: the model has no layer "${name}"`);
    }
    const o = layer.output as tf.SymbolicTensor;
    if (o.shape.length !== 4) throw new Error(`NAD: layer "${name}" outputs [${o.shape}], expected a feature map [B, H, W, C]`);
    return o;
  });
  return tf.model({ inputs: model.inputs, outputs: [model.outputs[1], ...outs] });
}

/** NAD student loss: CE + sum_g betas[g] * attentionLoss(student_g, teacher_g, p); teacher in inference mode. */
export function nadStageLoss(student: tf.LayersModel, teacher: tf.LayersModel, layers: string[], betas: number[], p: number): StageLoss {
  const sView = attentionView(student, layers);
  const tView = attentionView(teacher, layers);
  return {
    prepare: (x) => (tView.apply(x, { training: false }) as tf.Tensor[]).slice(1),
    loss: (x, y, teacherMaps) => {
      const [logits, ...maps] = sView.apply(x, { training: true }) as tf.Tensor[];
      const ce = crossEntropy(logits as tf.Tensor2D, y);
      let at: tf.Scalar = tf.scalar(0);
      maps.forEach((a, g) => {
        at = tf.add(at, tf.mul(attentionLoss(a as tf.Tensor4D, teacherMaps[g] as tf.Tensor4D, p), betas[g])) as tf.Scalar;
      });
      return { loss: tf.add(ce, at) as tf.Scalar, parts: { ce, at } };
    },
  };
}
