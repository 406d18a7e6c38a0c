/** Images of a data set as RGBA bytes for a canvas (grey images repeat their one channel). */
import type { Dataset } from '../engine/data/dataset';

/** RGBA pixels [k, H, W, 4] of the images at `indices` of `ds` (uint8 HWC, 1 to 3 channels). */
export function toRgba(ds: Dataset, indices: ArrayLike<number>): Uint8ClampedArray {
  const px = ds.height * ds.width;
  const out = new Uint8ClampedArray(indices.length * px * 4);
  for (let k = 0; k < indices.length; k++) {
    const idx = indices[k];
    for (let j = 0; j < px; j++) {
      const s = (idx * px + j) * ds.channels;
      const d = (k * px + j) * 4;
      out[d] = ds.images[s];
      out[d + 1] = ds.images[s + (ds.channels > 1 ? 1 : 0)];
      out[d + 2] = ds.images[s + (ds.channels > 2 ? 2 : 0)];
      out[d + 3] = 255;
    }
  }
  return out;
}
