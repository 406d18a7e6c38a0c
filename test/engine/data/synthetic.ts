/** Test helper: small deterministic datasets whose pixel values encode their position. */
import { createDataset, type Dataset } from '../../../src/engine/data/dataset';
import { createRng } from '../../../src/engine/random';

/**
 * n images of h x w x c; labels cycle 0..classes-1 (or are given); pixels are pseudo-random uint8 from `seed`,
 * so every image differs and no value is special.
 */
export function syntheticDataset(
  n: number,
  { h = 8, w = 8, c = 3, classes = 3, seed = 1, labels }: { h?: number; w?: number; c?: number; classes?: number; seed?: number; labels?: number[] } = {},
): Dataset {
  const rng = createRng(seed);
  const images = new Uint8Array(n * h * w * c);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  return createDataset({
    images,
    labels: labels ?? Array.from({ length: n }, (_, i) => i % classes),
    height: h,
    width: w,
    channels: c,
    classNames: Array.from({ length: classes }, (_, k) => `class${k}`),
  });
}
