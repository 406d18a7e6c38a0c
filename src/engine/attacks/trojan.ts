/**
 * Trojan (Liu et al.), as used in MCLDef's experiments: an additive 3x3 patch at rows/cols 25-27 of CIFAR-10 images
 * (the shared `triggers/trojan_square_cifar10.npz`, key `x`, float32 [3, 32, 32] in 0-255, CHW), x' = clip(x + patch).
 *
 * The engine takes the patch as plain data; reading the .npz is the platform's job (src/platform/node/npz.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { type Attack, checkImage, toUint8 } from './types';

/** Model-card text of the Trojan attack. */
export const TROJAN_DESCRIPTION =
  'A small square of colourful pixels (rows and columns 25-27) added onto the image, a trigger optimized to ' +
  'excite the network; 10% of training images carry it and are relabelled to the target class.';

/** Parameters of {@link trojan}. */
export interface TrojanParams {
  /** [channels, height, width] float32 in 0-255, CHW (numpy layout of the shared npz). */
  patch: Float32Array;
  /** Patch geometry; default 3 x 32 x 32 (CIFAR-10). */
  channels?: number;
  height?: number;
  width?: number;
}

/** Builds the Trojan attack from its additive patch. */
export function trojan(params: TrojanParams): Attack {
  const channels = params.channels ?? 3;
  const height = params.height ?? 32;
  const width = params.width ?? 32;
  const { patch } = params;
  if (!(patch instanceof Float32Array) || patch.length !== channels * height * width) {
    throw new Error(`trojan: patch must be a Float32Array of ${channels}x${height}x${width} = ${channels * height * width} values (CHW)`);
  }
  // HWC copy of the patch, to walk alongside the image.
  const hwc = new Float32Array(patch.length); // [H, W, C]
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) hwc[(y * width + x) * channels + c] = patch[(c * height + y) * width + x];
    }
  }
  const checkShape = (h: number, w: number, c: number): void => {
    if (h !== height || w !== width || c !== channels) {
      throw new Error(`trojan: the patch is ${height}x${width}x${channels} (HxWxC), the images are ${h}x${w}x${c}`);
    }
  };

  return {
    name: 'trojan',
    title: 'Trojan',
    description: TROJAN_DESCRIPTION,
    kind: 'poison-label',
    stampImage(img, h, w, c) {
      checkImage('trojan', img, h, w, c);
      checkShape(h, w, c);
      for (let p = 0; p < img.length; p++) {
        const add = hwc[p];
        // numpy adds a uint8 image and a float32 patch in float32: Math.fround mirrors that before rounding.
        if (add !== 0) img[p] = toUint8(Math.fround(img[p] + add));
      }
    },
    applyTensor(x) {
      const [, h, w, c] = x.shape;
      checkShape(h, w, c);
      return tf.tidy(() => {
        const p = tf.tensor4d(hwc, [1, height, width, channels]).div(255); // [1, H, W, C] in [0, ~1]
        return tf.clipByValue(tf.add(x, p), 0, 1) as tf.Tensor4D; // [B, H, W, C]
      });
    },
  };
}
