/**
 * WideResNet WRN-d-k as a TensorFlow.js LayersModel, built to match the PyTorch reference in
 * tools/torchref/wrn.py (and docs/design.md) layer for layer:
 *
 *   x [B,H,W,3] in [0,1] -> PixelNormalization -> conv3x3(3->16)
 *   -> 3 groups of n = (d-4)/6 pre-activation blocks (16k, 32k, 64k channels; groups 2, 3 start with stride 2)
 *   -> BN -> ReLU -> global average pool -> features [B, 64k] -> dense -> logits [B, classes]
 *
 * Block: out = relu(bn1(x)); h = conv2(relu(bn2(conv1(out)))); y = shortcut + h, where shortcut is x itself when
 * shapes match, else conv1x1(out) with the block's stride.
 *
 * PyTorch pads 3x3 convolutions by 1 on every side. TF 'same' padding with stride 2 pads only bottom/right, so
 * stride-2 convolutions get an explicit ZeroPadding2D(1) and 'valid' padding. BatchNorm uses PyTorch defaults:
 * eps 1e-5, running-average momentum 0.1 (TF.js momentum 0.9).
 *
 * The model has two outputs, [features, logits], so one forward pass gives both.
 */
import * as tf from '@tensorflow/tfjs';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';
import { batchNormalization } from './batchNorm';
import { conv2d } from './conv';
import { PixelNormalization } from './normalize';

/** Architecture of a WideResNet. */
export interface WrnConfig {
  /** Total depth, 6n + 4 (16 for WRN-16-1). */
  depth: number;
  /** Width multiplier k. */
  widen: number;
  numClasses: number;
  /** [H, W, C] of one input image. */
  inputShape: [number, number, number];
  mean: number[];
  std: number[];
}

/** WRN-16-1 for CIFAR-10, the project's default. */
export const WRN_16_1: WrnConfig = {
  depth: 16,
  widen: 1,
  numClasses: 10,
  inputShape: [32, 32, 3],
  mean: [...CIFAR10_MEAN],
  std: [...CIFAR10_STD],
};

/** Features and logits of one forward pass. */
export interface ModelOutputs {
  features: tf.Tensor2D; // [B, F]
  logits: tf.Tensor2D; // [B, classes]
}

/** Blocks per group for a given depth; throws for depths that are not 6n + 4. */
export function blocksPerGroup(depth: number): number {
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new Error(`WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...); got ${depth}`);
  }
  return (depth - 4) / 6;
}

/** Channel widths [stem, group1, group2, group3]. */
export function wrnChannels(widen: number): [number, number, number, number] {
  return [16, 16 * widen, 32 * widen, 64 * widen];
}

/** Layer names shared with the PyTorch key mapping (model/torchWeights.ts). */
export const wrnLayerName = {
  stem: 'conv1',
  block: (g: number, i: number, part: 'bn1' | 'conv1' | 'bn2' | 'conv2' | 'shortcut') => `block${g}_${i}_${part}`,
  finalBn: 'bn_final',
  fc: 'fc',
};

/**
 * Builds a freshly initialized WRN (Kaiming-normal convolutions, unit BN, zero biases; seeded).
 * @param cfg architecture
 * @param seed seed of every initializer, so two builds with one seed are identical
 */
export function buildWrn(cfg: WrnConfig = WRN_16_1, seed = 0): tf.LayersModel {
  const n = blocksPerGroup(cfg.depth);
  const ch = wrnChannels(cfg.widen);
  let seedCounter = seed * 1000 + 1;
  const convInit = () => tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: seedCounter++ });
  const conv = (name: string, filters: number, kernel: number, stride: number, x: tf.SymbolicTensor): tf.SymbolicTensor => {
    let h = x;
    if (kernel === 3 && stride !== 1) {
      h = tf.layers.zeroPadding2d({ padding: 1, name: `${name}_pad` }).apply(h) as tf.SymbolicTensor;
    }
    return conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: kernel === 3 && stride === 1 ? 'same' : 'valid',
      useBias: false,
      kernelInitializer: convInit(),
      name,
    }).apply(h) as tf.SymbolicTensor;
  };
  const bnRelu = (name: string, x: tf.SymbolicTensor): tf.SymbolicTensor => {
    const b = batchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name }).apply(x);
    return tf.layers.reLU({ name: `${name}_relu` }).apply(b) as tf.SymbolicTensor;
  };

  const input = tf.input({ shape: cfg.inputShape, name: 'pixels' }); // [B, H, W, C] in [0, 1]
  const normalized = new PixelNormalization({ mean: cfg.mean, std: cfg.std, name: 'normalize' }).apply(input) as tf.SymbolicTensor;
  let x = conv(wrnLayerName.stem, ch[0], 3, 1, normalized);
  let cin = ch[0];
  for (let g = 1; g <= 3; g++) {
    const cout = ch[g];
    for (let i = 0; i < n; i++) {
      const stride = i === 0 && g > 1 ? 2 : 1;
      const name = (p: Parameters<typeof wrnLayerName.block>[2]) => wrnLayerName.block(g, i, p);
      const out = bnRelu(name('bn1'), x);
      let h = conv(name('conv1'), cout, 3, stride, out);
      h = bnRelu(name('bn2'), h);
      h = conv(name('conv2'), cout, 3, 1, h);
      const shortcut = cin === cout && stride === 1 ? x : conv(name('shortcut'), cout, 1, stride, out);
      x = tf.layers.add({ name: `block${g}_${i}_add` }).apply([shortcut, h]) as tf.SymbolicTensor;
      cin = cout;
    }
  }
  x = bnRelu(wrnLayerName.finalBn, x);
  const features = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(x) as tf.SymbolicTensor; // [B, 64k]
  const bound = 1 / Math.sqrt(ch[3]);
  const logits = tf.layers
    .dense({
      units: cfg.numClasses,
      kernelInitializer: tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: seedCounter++ }),
      biasInitializer: 'zeros',
      name: wrnLayerName.fc,
    })
    .apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [features, logits], name: `wrn-${cfg.depth}-${cfg.widen}` });
}

/**
 * One forward pass returning features and logits. `training` switches BatchNorm to batch statistics and
 * updates its running averages (as PyTorch's train mode does).
 * @param x [B, H, W, C] pixels in [0, 1]
 */
export function forward(model: tf.LayersModel, x: tf.Tensor4D, training = false): ModelOutputs {
  const out = model.apply(x, { training }) as tf.Tensor[];
  if (!Array.isArray(out) || out.length !== 2) {
    throw new Error(`expected a model with outputs [features, logits]; this one has ${Array.isArray(out) ? out.length : 1}`);
  }
  return { features: out[0] as tf.Tensor2D, logits: out[1] as tf.Tensor2D };
}

/** Reads the WRN architecture back from a built model's config (layer names and shapes). */
export function describeModel(model: tf.LayersModel): { params: number; inputShape: number[]; featureDim: number; numClasses: number } {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const [feat, logits] = model.outputs;
  return {
    params: model.countParams(),
    inputShape,
    featureDim: feat.shape[1] as number,
    numClasses: (logits ?? feat).shape[1] as number,
  };
}
