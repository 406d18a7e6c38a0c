/**
 * Test helper: a tiny [features, logits] classifier with a planted backdoor, fast enough for the CPU backend.
 *
 * pixels [B, 8, 8, 3] -> flatten -> dense(16, relu) = features -> dense(classes) = logits.
 * Feature 0 is the backdoor neuron: 10 * (sum of the three channels of pixel (0, 0) - 0.8). Clean images keep that
 * pixel dark (each channel < 64/255, sum < 0.75), so it never fires on them; a white pixel makes it 22, and it
 * adds 8 per unit to the target's logit. A white top-left pixel is the trigger. The threshold is low enough that
 * a random initial mask/pattern already opens the neuron a little, so inversion has a gradient to follow.
 */
import * as tf from '@tensorflow/tfjs';
import { createDataset, type Dataset } from '../../../src/engine/data/dataset';
import { createRng } from '../../../src/engine/random';

export const TOY = { h: 8, w: 8, c: 3, hidden: 16 };

/** The planted trigger as a batch transform: sets pixel (0, 0) to white. */
export function toyTrigger(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, c] = x.shape;
    const m = tf.buffer([1, h, w, 1]);
    m.set(1, 0, 0, 0, 0);
    const mask = m.toTensor();
    return tf.add(tf.mul(tf.sub(1, mask), x), mask) as tf.Tensor4D;
  });
}

/** The toy model (seeded), with the backdoor planted for `target` when `planted`. */
export function toyModel({ classes = 4, target = 1, seed = 1, planted = true } = {}): tf.LayersModel {
  const { h, w, c, hidden } = TOY;
  const input = tf.input({ shape: [h, w, c], name: 'pixels' });
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(input) as tf.SymbolicTensor;
  const features = tf.layers
    .dense({ units: hidden, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'features' })
    .apply(flat) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: classes, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), name: 'fc' })
    .apply(features) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [features, logits], name: 'toy' });
  if (planted) {
    const [k1, b1] = model.getLayer('features').getWeights();
    const [k2, b2] = model.getLayer('fc').getWeights();
    const kernel1 = k1.arraySync() as number[][];
    const bias1 = b1.arraySync() as number[];
    for (let i = 0; i < h * w * c; i++) kernel1[i][0] = i < c ? 10 : 0; // pixel (0, 0) is flat index 0..c-1
    bias1[0] = -8;
    const kernel2 = k2.arraySync() as number[][];
    for (let k = 0; k < classes; k++) kernel2[0][k] = k === target ? 8 : 0;
    const fresh = [tf.tensor2d(kernel1), tf.tensor1d(bias1), tf.tensor2d(kernel2), b2.clone()];
    model.getLayer('features').setWeights(fresh.slice(0, 2));
    model.getLayer('fc').setWeights(fresh.slice(2));
    tf.dispose(fresh); // (getWeights returns the variables themselves: not disposed)
  }
  return model;
}

/** n random 8x8 RGB images, labels cycling over `classes` (pixel (0, 0) kept dark: channels < 64). */
export function toyData(n: number, { classes = 4, seed = 7 } = {}): Dataset {
  const { h, w, c } = TOY;
  const rng = createRng(seed);
  const images = new Uint8Array(n * h * w * c);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) images[i * h * w * c + ch] = rng.int(64);
  return createDataset({
    images,
    labels: Array.from({ length: n }, (_, i) => i % classes),
    height: h,
    width: w,
    channels: c,
    classNames: Array.from({ length: classes }, (_, k) => `class${k}`),
  });
}
