/**
 * Training-time augmentation as tensor ops: random crop after zero padding, and random horizontal flip, as
 * torchvision's `RandomCrop(32, padding=4)` + `RandomHorizontalFlip()` used by MCLDef's purification stage.
 *
 * The per-image choices are drawn from the project's {@link Rng} on the CPU (never Math.random), then applied
 * to the whole batch at once with one gather of precomputed pixel indices, which selects exact pixels (no
 * interpolation) and needs only kernels every backend has (Pad, Reshape, GatherV2 without batchDims).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random';

/** Options of {@link randomCropFlip}. */
export interface CropFlipOptions {
  /** Zero padding on every side before cropping back to H x W. Default 4. */
  padding?: number;
  /** Flip each image left-right with probability 0.5. Default true. */
  flip?: boolean;
}

/** The random choices for one batch; arrays are [B]. */
export interface CropFlipParams {
  /** Top row of each crop in the padded image, in [0, 2 * padding]; padding means no vertical shift. */
  offsetY: Int32Array;
  /** Left column of each crop in the padded image, in [0, 2 * padding]. */
  offsetX: Int32Array;
  /** 1 where the image is flipped left-right (after cropping), else 0. */
  flip: Uint8Array;
}

/**
 * Draws the crop offsets and flips for a batch of `batch` images. Per image, in order: offsetY = int(2p+1),
 * offsetX = int(2p+1), then (when flipping is on) flip = next() < 0.5. The draw order is part of the seed contract.
 */
export function drawCropFlip(rng: Rng, batch: number, padding = 4, flip = true): CropFlipParams {
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`drawCropFlip: padding must be a non-negative integer, got ${padding}`);
  const offsetY = new Int32Array(batch);
  const offsetX = new Int32Array(batch);
  const flips = new Uint8Array(batch);
  for (let b = 0; b < batch; b++) {
    offsetY[b] = rng.int(2 * padding + 1);
    offsetX[b] = rng.int(2 * padding + 1);
    if (flip) flips[b] = rng.next() < 0.5 ? 1 : 0;
  }
  return { offsetY, offsetX, flip: flips };
}

/**
 * Applies given crop/flip choices: out[b, i, j, c] = padded[b, offsetY[b] + i, col(b, j), c] with
 * col(b, j) = offsetX[b] + j, or offsetX[b] + W - 1 - j when flip[b] (padded = x with `padding` zeros around).
 * x: [B, H, W, C] float32; returns a new [B, H, W, C] tensor, x is not disposed.
 */
export function applyCropFlip(x: tf.Tensor4D, params: CropFlipParams, padding = 4): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (params.offsetY.length !== b || params.offsetX.length !== b || params.flip.length !== b) {
    throw new Error(`applyCropFlip: params are for ${params.offsetY.length} images, batch has ${b}`);
  }
  const hp = h + 2 * padding;
  const wp = w + 2 * padding;
  // One flat gather (no batchDims: tfjs-backend-wasm 4.22's GatherV2 with batchDims reads out of bounds):
  // out pixel (k, i, j) <- padded pixel (k, offsetY + i, col) at flat position (k * hp + offsetY + i) * wp + col.
  const index = new Int32Array(b * h * w); // [B * H * W]
  for (let k = 0; k < b; k++) {
    const dy = params.offsetY[k];
    const dx = params.offsetX[k];
    if (dy < 0 || dy > 2 * padding || dx < 0 || dx > 2 * padding) {
      throw new Error(`applyCropFlip: offset (${dy}, ${dx}) of image ${k} is outside [0, ${2 * padding}]`);
    }
    for (let i = 0; i < h; i++) {
      const rowBase = (k * hp + dy + i) * wp;
      const out = (k * h + i) * w;
      for (let j = 0; j < w; j++) index[out + j] = rowBase + (params.flip[k] ? dx + w - 1 - j : dx + j);
    }
  }
  return tf.tidy(() => {
    const padded =
      padding > 0
        ? tf.pad(x, [
            [0, 0],
            [padding, padding],
            [padding, padding],
            [0, 0],
          ])
        : x; // [B, H+2p, W+2p, C]
    const flat = padded.reshape([b * hp * wp, c]); // [B*(H+2p)*(W+2p), C]
    const picked = tf.gather(flat, tf.tensor1d(index, 'int32'), 0); // [B*H*W, C]
    return picked.reshape([b, h, w, c]) as tf.Tensor4D;
  });
}

/**
 * Random crop with zero padding and random horizontal flip of a batch x [B, H, W, C] (float, any range), the
 * choices drawn from `rng` by {@link drawCropFlip}. Returns a new tensor; x is not disposed.
 */
export function randomCropFlip(x: tf.Tensor4D, rng: Rng, options: CropFlipOptions = {}): tf.Tensor4D {
  const padding = options.padding ?? 4;
  const params = drawCropFlip(rng, x.shape[0], padding, options.flip ?? true);
  return applyCropFlip(x, params, padding);
}
