/**
 * CIFAR ResNet-18 and PreAct-ResNet-18 (the variants of the common backdoor benchmarks) as TensorFlow.js
 * LayersModels, built to match tools/torchref/resnet.py layer for layer:
 *
 *   x [B,H,W,C] in [0,1] -> PixelNormalization -> conv3x3(C->w, stride 1) [-> BN -> ReLU: ResNet-18 only]
 *   -> 4 stages of 2 blocks (w, 2w, 4w, 8w channels; strides 1, 2, 2, 2)
 *   [-> BN -> ReLU: PreAct with finalBn] -> global average pool -> features [B, 8w] -> dense -> logits [B, classes]
 *
 * ResNet-18 block:  y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = 1x1 conv + BN when the
 *                   shape changes, else x.
 * PreAct block:     out = relu(bn1(x)); y = conv2(relu(bn2(conv1(out)))) + shortcut, shortcut = 1x1 conv of `out`
 *                   when the shape changes, else x.
 *
 * Padding is PyTorch's (stride-2 3x3 convolutions get ZeroPadding2D(1) + 'valid', since TF 'same' pads only
 * bottom/right); BatchNorm uses eps 1e-5 and running-average momentum 0.1 (TF.js momentum 0.9). The model has two
 * outputs, [features, logits]. Layer names are stable (see {@link resnetLayerName}) so weights map by name.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from './batchNorm';
import { conv2d } from './conv';
import { PixelNormalization } from './normalize';
import type { StateDict } from './torchWeights';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';

/** Architecture of a CIFAR ResNet-18 or PreAct-ResNet-18. */
export interface ResNetConfig {
  numClasses: number;
  /** [H, W, C] of one input image. */
  inputShape: [number, number, number];
  mean: number[];
  std: number[];
  /** Base width w: the stages have w, 2w, 4w, 8w channels (64 in the standard network). */
  width: number;
  /** PreAct only: a final BN + ReLU before the pool (PyTorch key `bn`); BackdoorBench's variant has none. */
  finalBn?: boolean;
}

/** ResNet-18 / PreAct-ResNet-18 for CIFAR-10 at full width. */
export const RESNET18_CIFAR10: ResNetConfig = {
  numClasses: 10,
  inputShape: [32, 32, 3],
  mean: [...CIFAR10_MEAN],
  std: [...CIFAR10_STD],
  width: 64,
  finalBn: false,
};

/** Stride of the first block of each stage; every stage has two blocks. */
export const RESNET_STAGE_STRIDES = [1, 2, 2, 2] as const;

/** Channel widths of the four stages. */
export function resnetChannels(width: number): [number, number, number, number] {
  if (!Number.isInteger(width) || width < 1) throw new Error(`ResNet width must be a positive integer; got ${width}`);
  return [width, 2 * width, 4 * width, 8 * width];
}

/** The named parts of one block (not all exist in both variants). */
export type ResNetBlockPart = 'conv1' | 'bn1' | 'conv2' | 'bn2' | 'shortcut_conv' | 'shortcut_bn' | 'add' | 'out';

/** Layer names shared with the PyTorch key map (architectures.ts) and the recognition of built models (introspect.ts). */
export const resnetLayerName = {
  stem: 'conv1',
  /** ResNet-18's stem BN; its presence tells a ResNet-18 from a PreAct-ResNet-18. */
  stemBn: 'bn1',
  block: (stage: number, i: number, part: ResNetBlockPart) => `layer${stage}_${i}_${part}`,
  finalBn: 'bn_final',
  head: 'linear',
};

/** Which PyTorch spellings a state_dict uses: benchmark code (`shortcut`, `linear`) or torchvision (`downsample`, `fc`). */
export interface KeyStyle {
  shortcut: 'shortcut' | 'downsample';
  head: 'linear' | 'fc';
}

/** The spellings of the benchmark code (kuangliu / BackdoorBench). */
export const BENCHMARK_KEYS: KeyStyle = { shortcut: 'shortcut', head: 'linear' };

/** Kind of a weighted layer, which fixes its layout conversion. */
export type TorchKind = 'conv' | 'bn' | 'linear';

/** Layer factories with PyTorch padding and BN settings; every initializer takes the next seed. */
function layerKit(seed: number) {
  let s = seed * 1000 + 1;
  const conv = (name: string, filters: number, kernel: number, stride: number, x: tf.SymbolicTensor): tf.SymbolicTensor => {
    let h = x;
    const padded = kernel === 3 && stride !== 1;
    if (padded) h = tf.layers.zeroPadding2d({ padding: 1, name: `${name}_pad` }).apply(h) as tf.SymbolicTensor;
    return conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: kernel === 3 && !padded ? 'same' : 'valid',
      useBias: false,
      kernelInitializer: tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: s++ }),
      name,
    }).apply(h) as tf.SymbolicTensor;
  };
  const bn = (name: string, x: tf.SymbolicTensor) =>
    batchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name }).apply(x) as tf.SymbolicTensor;
  const relu = (name: string, x: tf.SymbolicTensor) => tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;
  const add = (name: string, a: tf.SymbolicTensor, b: tf.SymbolicTensor) => tf.layers.add({ name }).apply([a, b]) as tf.SymbolicTensor;
  const head = (features: tf.SymbolicTensor, units: number, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return tf.layers
      .dense({ units, kernelInitializer: tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: s++ }), biasInitializer: 'zeros', name: resnetLayerName.head })
      .apply(features) as tf.SymbolicTensor;
  };
  return { conv, bn, relu, add, head };
}

type Kit = ReturnType<typeof layerKit>;
type BlockFn = (k: Kit, x: tf.SymbolicTensor, cin: number, cout: number, stride: number, name: (p: ResNetBlockPart) => string) => tf.SymbolicTensor;

/** ResNet-18 basic block (post-activation). x: [B, H, W, cin] -> [B, H/stride, W/stride, cout] */
const basicBlock: BlockFn = (k, x, cin, cout, stride, name) => {
  let h = k.relu(`${name('bn1')}_relu`, k.bn(name('bn1'), k.conv(name('conv1'), cout, 3, stride, x)));
  h = k.bn(name('bn2'), k.conv(name('conv2'), cout, 3, 1, h));
  const short = stride === 1 && cin === cout ? x : k.bn(name('shortcut_bn'), k.conv(name('shortcut_conv'), cout, 1, stride, x));
  return k.relu(name('out'), k.add(name('add'), short, h));
};

/** Pre-activation block. x: [B, H, W, cin] -> [B, H/stride, W/stride, cout] */
const preActBlock: BlockFn = (k, x, cin, cout, stride, name) => {
  const out = k.relu(`${name('bn1')}_relu`, k.bn(name('bn1'), x));
  let h = k.conv(name('conv1'), cout, 3, stride, out);
  h = k.conv(name('conv2'), cout, 3, 1, k.relu(`${name('bn2')}_relu`, k.bn(name('bn2'), h)));
  const short = stride === 1 && cin === cout ? x : k.conv(name('shortcut_conv'), cout, 1, stride, out);
  return k.add(name('add'), short, h);
};

function build(cfg: ResNetConfig, seed: number, preAct: boolean): tf.LayersModel {
  const ch = resnetChannels(cfg.width);
  if (cfg.mean.length !== cfg.inputShape[2]) {
    throw new Error(`mean/std have ${cfg.mean.length} values but the input has ${cfg.inputShape[2]} channels`);
  }
  const k = layerKit(seed);
  const input = tf.input({ shape: cfg.inputShape, name: 'pixels' }); // [B, H, W, C] in [0, 1]
  const normalized = new PixelNormalization({ mean: cfg.mean, std: cfg.std, name: 'normalize' }).apply(input) as tf.SymbolicTensor;
  let x = k.conv(resnetLayerName.stem, ch[0], 3, 1, normalized); // [B, H, W, w]
  if (!preAct) x = k.relu(`${resnetLayerName.stemBn}_relu`, k.bn(resnetLayerName.stemBn, x));
  let cin = ch[0];
  const block = preAct ? preActBlock : basicBlock;
  for (let s = 1; s <= 4; s++) {
    for (let i = 0; i < 2; i++) {
      const stride = i === 0 ? RESNET_STAGE_STRIDES[s - 1] : 1;
      x = block(k, x, cin, ch[s - 1], stride, (p) => resnetLayerName.block(s, i, p));
      cin = ch[s - 1];
    }
  }
  if (preAct && cfg.finalBn) x = k.relu(`${resnetLayerName.finalBn}_relu`, k.bn(resnetLayerName.finalBn, x));
  const features = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(x) as tf.SymbolicTensor; // [B, 8w]
  const logits = k.head(features, cfg.numClasses, ch[3]); // [B, classes]
  const name = `${preAct ? 'preactresnet18' : 'resnet18'}-w${cfg.width}${preAct && cfg.finalBn ? '-bn' : ''}`;
  return tf.model({ inputs: input, outputs: [features, logits], name });
}

/**
 * Builds a freshly initialized CIFAR ResNet-18 (Kaiming-normal convolutions, unit BN, zero biases; seeded).
 * @param cfg architecture (`finalBn` is ignored: ResNet-18 has no final BN)
 * @param seed seed of every initializer
 */
export function buildResNet18(cfg: ResNetConfig = RESNET18_CIFAR10, seed = 0): tf.LayersModel {
  return build(cfg, seed, false);
}

/**
 * Builds a freshly initialized CIFAR PreAct-ResNet-18 (with a final BN + ReLU when `cfg.finalBn`).
 * @param cfg architecture
 * @param seed seed of every initializer
 */
export function buildPreActResNet18(cfg: ResNetConfig = RESNET18_CIFAR10, seed = 0): tf.LayersModel {
  return build(cfg, seed, true);
}

/**
 * The PyTorch prefix and kind of every weighted layer, keyed by TF.js layer name, in PyTorch's state_dict order.
 * @param preAct PreAct-ResNet-18 (true) or ResNet-18 (false)
 */
export function resnetTorchKeys(preAct: boolean, cfg: Pick<ResNetConfig, 'width' | 'finalBn'>, keys: KeyStyle = BENCHMARK_KEYS): Map<string, { prefix: string; kind: TorchKind }> {
  const m = new Map<string, { prefix: string; kind: TorchKind }>();
  const ch = resnetChannels(cfg.width);
  m.set(resnetLayerName.stem, { prefix: 'conv1', kind: 'conv' });
  if (!preAct) m.set(resnetLayerName.stemBn, { prefix: 'bn1', kind: 'bn' });
  let cin = ch[0];
  for (let s = 1; s <= 4; s++) {
    for (let i = 0; i < 2; i++) {
      const p = `layer${s}.${i}`;
      const name = (part: ResNetBlockPart) => resnetLayerName.block(s, i, part);
      const parts: Array<[ResNetBlockPart, TorchKind]> = preAct
        ? [['bn1', 'bn'], ['conv1', 'conv'], ['bn2', 'bn'], ['conv2', 'conv']]
        : [['conv1', 'conv'], ['bn1', 'bn'], ['conv2', 'conv'], ['bn2', 'bn']];
      for (const [part, kind] of parts) m.set(name(part), { prefix: `${p}.${part}`, kind });
      if ((i === 0 && RESNET_STAGE_STRIDES[s - 1] !== 1) || cin !== ch[s - 1]) {
        m.set(name('shortcut_conv'), { prefix: `${p}.${keys.shortcut}.0`, kind: 'conv' });
        if (!preAct) m.set(name('shortcut_bn'), { prefix: `${p}.${keys.shortcut}.1`, kind: 'bn' });
      }
      cin = ch[s - 1];
    }
  }
  if (preAct && cfg.finalBn) m.set(resnetLayerName.finalBn, { prefix: 'bn', kind: 'bn' });
  m.set(resnetLayerName.head, { prefix: keys.head, kind: 'linear' });
  return m;
}

/** What a state_dict cannot say: the normalization the model was trained with and the input size. */
export interface DetectOptions {
  /** Per-channel mean and std (CIFAR-10's by default). */
  mean?: number[];
  std?: number[];
  /** Input height and width, or one number for both (32 by default). */
  inputSize?: number | [number, number];
}

/** [H, W] from {@link DetectOptions.inputSize}. */
export function resolveInputSize(size: DetectOptions['inputSize'] = 32): [number, number] {
  const hw: [number, number] = typeof size === 'number' ? [size, size] : size;
  if (!hw.every((v) => Number.isInteger(v) && v >= 8)) throw new Error(`input size must be whole numbers of pixels, at least 8; got ${hw.join('x')}`);
  return hw;
}

/**
 * Reads a ResNet-18 or PreAct-ResNet-18 config off a state_dict (a leading `module.` already stripped). In a
 * PreAct block bn1 normalizes the block's input (conv1's input channels); in ResNet-18 it follows conv1, so
 * layer2.0.bn1 has w channels in the one and 2w in the other.
 * @returns undefined when the state_dict has no conv1.weight and layer1.0.conv1.weight
 * @throws Error for near misses: an ImageNet 7x7 stem, bottleneck blocks, deeper networks, no classifier
 */
export function detectResNet(sd: StateDict, opts: DetectOptions = {}): { preAct: boolean; config: ResNetConfig; keys: KeyStyle } | undefined {
  const stem = sd.get('conv1.weight'); // [w, C, 3, 3]
  if (!stem || !sd.has('layer1.0.conv1.weight')) return undefined;
  if (stem.shape.length !== 4 || stem.shape[2] !== 3 || stem.shape[3] !== 3) {
    throw new Error(`conv1.weight has shape [${stem.shape.join(', ')}]: only the CIFAR ResNets with a 3x3 stride-1 stem are supported (a 7x7 stem is the ImageNet variant)`);
  }
  if (sd.has('layer1.0.conv3.weight')) throw new Error('the state_dict has bottleneck blocks (layer1.0.conv3): ResNet-50 or deeper; only ResNet-18 and PreAct-ResNet-18 are supported');
  const blocks = [1, 2, 3, 4].map((s) => {
    let n = 0;
    while (sd.has(`layer${s}.${n}.conv1.weight`)) n++;
    return n;
  });
  if (blocks.join() !== '2,2,2,2') {
    throw new Error(`the state_dict has [${blocks.join(', ')}] blocks per stage; only the 18-layer networks with [2, 2, 2, 2] are supported (ResNet-34 has [3, 4, 6, 3])`);
  }
  const head = sd.has('linear.weight') ? 'linear' : sd.has('fc.weight') ? 'fc' : undefined;
  if (!head) throw new Error('the ResNet state_dict has no classifier: expected linear.weight or fc.weight');
  const shortcut = [...sd.keys()].some((k) => /\.downsample\.\d+\./.test(k)) ? 'downsample' : 'shortcut';
  const bn1 = sd.get('layer2.0.bn1.weight');
  const conv1 = sd.get('layer2.0.conv1.weight'); // [2w, w, 3, 3]
  if (!bn1 || !conv1) throw new Error('the ResNet state_dict has no layer2.0.bn1.weight or layer2.0.conv1.weight');
  const preAct = bn1.shape[0] === conv1.shape[1] && bn1.shape[0] !== conv1.shape[0];
  const [h, w] = resolveInputSize(opts.inputSize);
  const config: ResNetConfig = {
    numClasses: sd.get(`${head}.weight`)!.shape[0],
    inputShape: [h, w, stem.shape[1]],
    mean: opts.mean ?? [...CIFAR10_MEAN],
    std: opts.std ?? [...CIFAR10_STD],
    width: stem.shape[0],
    finalBn: preAct && sd.has('bn.weight'),
  };
  return { preAct, config, keys: { shortcut, head } };
}
