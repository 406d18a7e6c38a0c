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
import { crossEntropy, mclKeepTargetLoss, mclLoss, positivePairLoss } from './losses';
import type { StageLoss, StepLoss } from './train';

/** The frozen model's features of the clean and the triggered batch: z+ = f_b(x), z- = f_b(x^), inference mode. */
export function frozenPairs(backdoored: tf.LayersModel, x: tf.Tensor4D, xHat: tf.Tensor4D): { zPos: tf.Tensor2D; zNeg: tf.Tensor2D } {
  return tf.tidy(() => ({ zPos: forward(backdoored, x, false).features, zNeg: forward(backdoored, xHat, false).features }));
}

/**
 * Keeping the target class in stage 2 (our extension; the paper's loss is the default): `target` is the class the
 * inverted trigger leads to. Its clean images keep only the positive pair (see mclKeepTargetLoss), the clean
 * batch goes through f_p beside the triggered one (BatchNorm sees both), and with `anchor` > 0 the purified
 * model's logits of both are held to the images' true labels, anchor * CE(f_p([x^; x]), [y; y]): the labels the
 * defender has anyway. It costs a second forward and backward pass per batch.
 */
export interface KeepTarget {
  target: number;
  anchor: number;
}

/**
 * Stage 2 loss for the training loop: frozen-model features prepared outside the tape.
 * @param bnTraining f_p's BatchNorm mode: true (the paper's code: batch statistics, running averages updated from
 *   the triggered batches) or false (running statistics kept from the backdoored model; an experiment option)
 * @param keep keep the target class (null: the paper's loss)
 */
export function mclStageLoss(
  purified: tf.LayersModel,
  backdoored: tf.LayersModel,
  trigger: TriggerTensors,
  tau: number,
  bnTraining = true,
  keep: KeepTarget | null = null,
): StageLoss {
  return {
    prepare: (x, y) => {
      const xHat = trigger.apply(x);
      const { zPos, zNeg } = frozenPairs(backdoored, x, xHat);
      return keep ? [xHat, zPos, zNeg, tf.tidy(() => tf.cast(tf.equal(y, keep.target), 'float32'))] : [xHat, zPos, zNeg];
    },
    loss: (x, y, [xHat, zPos, zNeg, isTarget]): StepLoss => {
      if (!keep) {
        const z = forward(purified, xHat as tf.Tensor4D, bnTraining).features;
        const r = mclLoss(z, zPos as tf.Tensor2D, zNeg as tf.Tensor2D, tau);
        return { loss: r.loss, parts: { sPos: r.sPos, sNeg: r.sNeg } };
      }
      // Keeping the target: the triggered batch and its clean originals go through f_p together [2B] (BatchNorm
      // statistics over both), the contrastive loss on the triggered half, the label anchor on both halves.
      const b = x.shape[0];
      const out = forward(purified, tf.concat([xHat as tf.Tensor4D, x]), bnTraining);
      const z = tf.slice(out.features, [0, 0], [b, -1]) as tf.Tensor2D;
      const r = mclKeepTargetLoss(z, zPos as tf.Tensor2D, zNeg as tf.Tensor2D, tau, isTarget as tf.Tensor1D);
      if (keep.anchor <= 0) return { loss: r.loss, parts: { sPos: r.sPos, sNeg: r.sNeg } };
      const ce = crossEntropy(out.logits, tf.concat([y, y]) as tf.Tensor1D);
      return { loss: tf.add(r.loss, tf.mul(ce, keep.anchor)) as tf.Scalar, parts: { sPos: r.sPos, sNeg: r.sNeg, ce } };
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
