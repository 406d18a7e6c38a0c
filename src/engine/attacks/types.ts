/**
 * What every attack provides: the same trigger on two representations.
 *
 * - uint8 path (`stampImage`): stamps one HWC uint8 image in place, used to build poisoned datasets. Where the
 *   trigger value is not an integer, the result is clipped to [0, 255] and rounded to the nearest integer, so it
 *   stays within half a level of the unquantized float stamp that the PyTorch zoo (tools/zoo/attacks.py) trains on.
 *   (The MCLDef authors' numpy code truncated with astype('uint8'); rounding halves that error and has no bias.)
 * - tensor path (`applyTensor`): pure tfjs ops on a float batch in [0, 1], differentiable in x, batch-friendly,
 *   without quantization: it equals the zoo's stamp(x) / 255. So tensor = uint8 / 255 exactly for BadNets/CL, and
 *   |tensor * 255 - uint8| <= 0.5 for Trojan, Blend, SIG and the mask trigger.
 */
import type * as tf from '@tensorflow/tfjs';

/** The attacks the engine knows. */
export type AttackName = 'badnets' | 'trojan' | 'blend' | 'sig' | 'cl' | 'mask';

/** All attack names, in display order. */
export const ATTACK_NAMES: readonly AttackName[] = ['badnets', 'trojan', 'blend', 'sig', 'cl', 'mask'];

/** How poisoned training images are labelled: relabelled to the target, or left with their own (target) label. */
export type PoisonKind = 'poison-label' | 'clean-label';

/** A trigger that can be stamped on uint8 images and applied to float tensors. */
export interface Attack {
  readonly name: AttackName;
  /** Display name, e.g. "BadNets". */
  readonly title: string;
  /** One or two sentences for the UI model card. */
  readonly description: string;
  /** Default training-set poisoning of this attack. */
  readonly kind: PoisonKind;
  /** Stamps one image in place. img: [height * width * channels] uint8 HWC. Throws if the geometry is unsupported. */
  stampImage(img: Uint8Array, height: number, width: number, channels: number): void;
  /** x: [B, H, W, C] float32 in [0, 1] -> triggered copy [B, H, W, C]; x is not disposed. */
  applyTensor(x: tf.Tensor4D): tf.Tensor4D;
}

/** Clips a float pixel value to [0, 255] and rounds it to the nearest integer (halves up). */
export function toUint8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Checks an image buffer against its declared geometry and an attack's minimum size. */
export function checkImage(
  attack: string,
  img: Uint8Array,
  height: number,
  width: number,
  channels: number,
  minSize = 1,
): void {
  if (img.length !== height * width * channels) {
    throw new Error(`${attack}: image has ${img.length} bytes, expected ${height}x${width}x${channels} = ${height * width * channels}`);
  }
  if (height < minSize || width < minSize) {
    throw new Error(`${attack}: image ${height}x${width} is smaller than the ${minSize}x${minSize} this trigger needs`);
  }
}
