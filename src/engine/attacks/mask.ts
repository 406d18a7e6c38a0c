/**
 * The generic mask/pattern trigger of Neural Cleanse, the form MCLDef's stage 1 inverts:
 * x' = (1 - m) * x + m * p, m [H, W] in [0, 1] shared by the channels, p [H, W, C] in [0, 1].
 *
 * {@link applyMaskTrigger} takes tensors, so the defense can pass its tf.Variables and differentiate through it;
 * the `mask` attack wraps fixed arrays (a finished inversion) for datasets and batches.
 */
import * as tf from '@tensorflow/tfjs';
import { type Attack, checkImage, toUint8 } from './types';

/** Model-card text of the mask trigger. */
export const MASK_DESCRIPTION =
  "A general trigger x' = (1 - m) * x + m * p: a mask m chooses where the pattern p replaces the image. " +
  'This is the form of the trigger that MCLDef inverts from a backdoored model.';

/** Parameters of {@link maskAttack}: a fixed mask and pattern. */
export interface MaskParams {
  /** [height, width] in [0, 1]. */
  mask: Float32Array;
  /** [height, width, channels] in [0, 1], HWC. */
  pattern: Float32Array;
  height: number;
  width: number;
  /** Default 3. */
  channels?: number;
}

/**
 * x' = (1 - m) * x + m * p. x: [B, H, W, C]; m: [H, W] (or [1, H, W, 1]); p: [H, W, C] (or [1, H, W, C]).
 * Differentiable in x, m and p; returns a new tensor and disposes nothing it was given.
 */
export function applyMaskTrigger(x: tf.Tensor4D, m: tf.Tensor, p: tf.Tensor): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  if (m.size !== h * w) throw new Error(`applyMaskTrigger: mask has ${m.size} values, images are ${h}x${w}`);
  if (p.size !== h * w * c) throw new Error(`applyMaskTrigger: pattern has ${p.size} values, images are ${h}x${w}x${c}`);
  return tf.tidy(() => {
    const m4 = m.reshape([1, h, w, 1]); // broadcast over B and C
    const p4 = p.reshape([1, h, w, c]); // broadcast over B
    return tf.add(tf.mul(tf.sub(1, m4), x), tf.mul(m4, p4)) as tf.Tensor4D;
  });
}

/** Builds the attack for a fixed mask and pattern (uint8 path: clip and round, as every attack). */
export function maskAttack(params: MaskParams): Attack {
  const { mask, pattern, height, width } = params;
  const channels = params.channels ?? 3;
  if (!(mask instanceof Float32Array) || mask.length !== height * width) {
    throw new Error(`mask: mask must be a Float32Array of ${height}x${width} = ${height * width} values`);
  }
  if (!(pattern instanceof Float32Array) || pattern.length !== height * width * channels) {
    throw new Error(`mask: pattern must be a Float32Array of ${height}x${width}x${channels} = ${height * width * channels} values (HWC)`);
  }
  const outside = (a: Float32Array): number => a.findIndex((v) => !(v >= 0 && v <= 1));
  if (outside(mask) >= 0) throw new Error(`mask: mask value ${mask[outside(mask)]} at ${outside(mask)} is outside [0, 1]`);
  if (outside(pattern) >= 0) throw new Error(`mask: pattern value ${pattern[outside(pattern)]} at ${outside(pattern)} is outside [0, 1]`);
  const checkShape = (h: number, w: number, c: number): void => {
    if (h !== height || w !== width || c !== channels) {
      throw new Error(`mask: the trigger is ${height}x${width}x${channels} (HxWxC), the images are ${h}x${w}x${c}`);
    }
  };

  return {
    name: 'mask',
    title: 'Mask trigger',
    description: MASK_DESCRIPTION,
    kind: 'poison-label',
    stampImage(img, h, w, c) {
      checkImage('mask', img, h, w, c);
      checkShape(h, w, c);
      for (let q = 0; q < h * w; q++) {
        const mq = mask[q];
        if (mq === 0) continue;
        for (let ch = 0; ch < c; ch++) {
          const i = q * c + ch;
          const v = (1 - mq) * img[i] + mq * pattern[i] * 255;
          img[i] = toUint8(v);
        }
      }
    },
    applyTensor(x) {
      const [, h, w, c] = x.shape;
      checkShape(h, w, c);
      return tf.tidy(() => applyMaskTrigger(x, tf.tensor2d(mask, [height, width]), tf.tensor3d(pattern, [height, width, channels])));
    },
  };
}
