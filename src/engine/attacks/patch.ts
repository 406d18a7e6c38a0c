/**
 * Fixed 3x3 patch triggers: BadNets' grid (also the stamp of the clean-label CL attack) and the Blend patch.
 *
 * A patch is a list of cells (row, col, value 0-255) placed on every channel, blended with weight alpha:
 * x' = alpha * value + (1 - alpha) * x (alpha = 1 replaces the pixel). Rows and columns are counted from the
 * image's bottom-right corner, so the triggers follow the reference code's `img[width - k][height - l]` on any size.
 */
import * as tf from '@tensorflow/tfjs';
import { type Attack, type AttackName, checkImage, type PoisonKind, toUint8 } from './types';

/** One trigger pixel: rows/cols up from the bottom / left from the right (0 = last row / last column). */
export interface PatchCell {
  fromBottom: number;
  fromRight: number;
  /** 0-255, the same on every channel. */
  value: number;
}

/**
 * BadNets grid, (r, c) counted from the bottom-right pixel:
 * (0,0)=255 (0,1)=0 (0,2)=255 / (1,0)=0 (1,1)=255 (1,2)=0 / (2,0)=255 (2,1)=0 (2,2)=0.
 */
export const BADNETS_CELLS: readonly PatchCell[] = [
  [255, 0, 255],
  [0, 255, 0],
  [255, 0, 0],
].flatMap((row, r) => row.map((value, c) => ({ fromBottom: r, fromRight: c, value })));

/**
 * Blend patch on rows/cols 18-20 of a 32x32 image (H-14..H-12 in general), row by row top to bottom:
 * 255 128 255 / 128 255 128 / 255 128 128.
 */
export const BLEND_CELLS: readonly PatchCell[] = [
  [255, 128, 255],
  [128, 255, 128],
  [255, 128, 128],
].flatMap((row, i) => row.map((value, j) => ({ fromBottom: 13 - i, fromRight: 13 - j, value }))); // row H-14+i, col W-14+j

/** Options of {@link patchAttack}. */
export interface PatchAttackSpec {
  name: AttackName;
  title: string;
  description: string;
  kind: PoisonKind;
  cells: readonly PatchCell[];
  /** Blend weight of the patch in (0, 1]; 1 replaces the pixels. */
  alpha: number;
}

/** Builds an attack that stamps `cells` with weight `alpha` on every channel. */
export function patchAttack(spec: PatchAttackSpec): Attack {
  const { cells, alpha } = spec;
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`${spec.name}: alpha must be in (0, 1], got ${alpha}`);
  const minSize = Math.max(...cells.map((c) => Math.max(c.fromBottom, c.fromRight))) + 1;

  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    kind: spec.kind,
    stampImage(img, height, width, channels) {
      checkImage(spec.name, img, height, width, channels, minSize);
      for (const cell of cells) {
        const base = ((height - 1 - cell.fromBottom) * width + (width - 1 - cell.fromRight)) * channels;
        for (let ch = 0; ch < channels; ch++) {
          // value * alpha + (1 - alpha) * x in float64, then round.
          img[base + ch] = alpha === 1 ? cell.value : toUint8(cell.value * alpha + (1 - alpha) * img[base + ch]);
        }
      }
    },
    applyTensor(x) {
      const [, height, width] = x.shape;
      if (height < minSize || width < minSize) {
        throw new Error(`${spec.name}: image ${height}x${width} is smaller than the ${minSize}x${minSize} this trigger needs`);
      }
      const keep = new Float32Array(height * width).fill(1); // [H, W]: 1 - alpha on the cells
      const add = new Float32Array(height * width); // [H, W]: alpha * value / 255 on the cells
      for (const cell of cells) {
        const p = (height - 1 - cell.fromBottom) * width + (width - 1 - cell.fromRight);
        keep[p] = 1 - alpha;
        add[p] = (alpha * cell.value) / 255;
      }
      return tf.tidy(() => {
        const keepT = tf.tensor4d(keep, [1, height, width, 1]);
        const addT = tf.tensor4d(add, [1, height, width, 1]);
        return tf.add(tf.mul(x, keepT), addT) as tf.Tensor4D; // [B, H, W, C], broadcast over B and C
      });
    },
  };
}

/** BadNets (Gu et al.): the 3x3 black-and-white grid in the bottom-right corner, poisoned labels. */
export function badnets(): Attack {
  return patchAttack({
    name: 'badnets',
    title: 'BadNets',
    description:
      'A 3x3 black-and-white grid stamped in the bottom-right corner; 10% of training images carry it and are ' +
      'relabelled to the target class.',
    kind: 'poison-label',
    cells: BADNETS_CELLS,
    alpha: 1,
  });
}

/**
 * CL, label-consistent (Turner et al.): target-class training images keep their label; they are perturbed by PGD
 * against a clean model (offline, not here) and then stamped with the BadNets grid, which is all this stamps.
 */
export function cleanLabel(): Attack {
  return patchAttack({
    name: 'cl',
    title: 'Clean-label (CL)',
    description:
      'Label-consistent attack: target-class training images are first made hard to classify by an adversarial ' +
      '(PGD) perturbation, then stamped with the BadNets grid; their labels stay correct.',
    kind: 'clean-label',
    cells: BADNETS_CELLS,
    alpha: 1,
  });
}

/** Blend: the 3x3 patch at rows/cols 18-20 mixed into the image with weight alpha (default 0.2), poisoned labels. */
export function blend(alpha = 0.2): Attack {
  return patchAttack({
    name: 'blend',
    title: 'Blend',
    description: `A faint 3x3 patch near the image centre (rows and columns 18-20), blended in at ${Math.round(alpha * 100)}% ` +
      'opacity; 10% of training images carry it and are relabelled to the target class.',
    kind: 'poison-label',
    cells: BLEND_CELLS,
    alpha,
  });
}
