/**
 * A trigger drawn as an RGBA image: RGB is the pattern, alpha the mask (0 keeps the image's pixel, 255 replaces it,
 * values between blend). This is the mask trigger of Neural Cleanse written as a picture, so a trigger can be
 * drawn in a paint program (or the page's attack lab), saved as a PNG and stamped by the engine:
 * x' = (1 - a / 255) * x + (a / 255) * rgb / 255.
 */
import { type Attack } from './types';
import { type MaskParams, maskAttack } from './mask';

/** What {@link maskParamsFromRgba} checks besides the size. */
export interface RgbaTriggerRules {
  /** Refuse a trigger whose mask covers the whole image at full strength (nothing of the image would be left). */
  refuseFullCover?: boolean;
}

/**
 * rgba: [height * width * 4] uint8, row-major RGBA -> mask [H, W] and pattern [H, W, 3] in [0, 1].
 * @throws Error naming what is wrong: the size, an empty trigger (every alpha 0), or (with refuseFullCover) an
 *   opaque trigger over the whole image
 */
export function maskParamsFromRgba(rgba: Uint8Array, height: number, width: number, rules: RgbaTriggerRules = {}): MaskParams {
  if (rgba.length !== height * width * 4) {
    throw new Error(`trigger: ${rgba.length} bytes for ${height}x${width} RGBA, expected ${height * width * 4}`);
  }
  const mask = new Float32Array(height * width);
  const pattern = new Float32Array(height * width * 3);
  let covered = 0;
  for (let q = 0; q < height * width; q++) {
    const a = rgba[4 * q + 3];
    mask[q] = a / 255;
    if (a > 0) covered++;
    for (let c = 0; c < 3; c++) pattern[3 * q + c] = a > 0 ? rgba[4 * q + c] / 255 : 0;
  }
  if (covered === 0) throw new Error('trigger: every pixel is transparent (alpha 0), so it changes nothing: draw at least one pixel');
  if (rules.refuseFullCover && mask.every((m) => m === 1)) {
    throw new Error(`trigger: it covers the whole ${height}x${width} image at full opacity, so nothing of the image is left: leave some pixels transparent or lower the opacity`);
  }
  return { mask, pattern, height, width, channels: 3 };
}

/** The mask attack of an RGBA trigger (see {@link maskParamsFromRgba}). */
export function rgbaAttack(rgba: Uint8Array, height: number, width: number, rules: RgbaTriggerRules = {}): Attack {
  return maskAttack(maskParamsFromRgba(rgba, height, width, rules));
}

/** Share of the image the trigger touches (alpha > 0), in [0, 1]. */
export function rgbaCoverage(rgba: Uint8Array): number {
  let on = 0;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] > 0) on++;
  return on / (rgba.length / 4);
}
