/**
 * Stage 2: model-contrastive purification (docs/design.md), and MCLDef+'s stage 3.
 *
 * theta_p (trained) starts as a copy of the backdoored theta_b, which stays frozen in inference mode. For a batch
 * of augmented clean x: x^ = the inverted trigger applied to x; z = f_p(x^) (training-mode BatchNorm),
 * z+ = f_b(x), z- = f_b(x^); loss = mean -log(exp(s+/t) / (exp(s+/t) + exp(s-/t))) with s = cosine similarity
 * and t = 0.5. That loss alone drives the update (no label loss). f is the pooled penultimate feature vector.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../model/wrn';
import type { TriggerTensors } from './invert';
import { mclLoss, positivePairLoss } from './losses';
import type { StageLoss } from './train';

/** The frozen model's features of the clean and the triggered batch: z+ = f_b(x), z- = f_b(x^), inference mode. */
export function frozenPairs(backdoored: tf.LayersModel, x: tf.Tensor4D, xHat: tf.Tensor4D): { zPos: tf.Tensor2D; zNeg: tf.Tensor2D } {
  return tf.tidy(() => ({ zPos: forward(backdoored, x, false).features, zNeg: forward(backdoored, xHat, false).features }));
}

/**
 * Stage 2 loss for the training loop: frozen-model features prepared outside the tape.
 * @param bnTraining f_p's BatchNorm mode: true (the paper's code: batch statistics, running averages updated from
 *   the triggered batches) or false (running statistics kept from the backdoored model; an experiment option)
 */
export function mclStageLoss(purified: tf.LayersModel, backdoored: tf.LayersModel, trigger: TriggerTensors, tau: number, bnTraining = true): StageLoss {
  return {
    prepare: (x) => {
      const xHat = trigger.apply(x);
      const { zPos, zNeg } = frozenPairs(backdoored, x, xHat);
      return [xHat, zPos, zNeg];
    },
    loss: (_x, _y, [xHat, zPos, zNeg]) => {
      const z = forward(purified, xHat as tf.Tensor4D, bnTraining).features;
      const r = mclLoss(z, zPos as tf.Tensor2D, zNeg as tf.Tensor2D, tau);
      return { loss: r.loss, parts: { sPos: r.sPos, sNeg: r.sNeg } };
    },
  };
}

/** MCLDef+ stage 3 loss: positive pairs only, mean 1 - cos(f_p(x^), f_b(x)). */
export function positiveStageLoss(purified: tf.LayersModel, backdoored: tf.LayersModel, trigger: TriggerTensors, bnTraining = true): StageLoss {
  return {
    prepare: (x) => {
      const xHat = trigger.apply(x);
      return [xHat, forward(backdoored, x, false).features];
    },
    loss: (_x, _y, [xHat, zPos]) => {
      const z = forward(purified, xHat as tf.Tensor4D, bnTraining).features;
      const r = positivePairLoss(z, zPos as tf.Tensor2D);
      return { loss: r.loss, parts: { sPos: r.sPos } };
    },
  };
}
