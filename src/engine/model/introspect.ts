/**
 * Reading an engine-built model back: its architecture from its layer names and shapes, the layers NAD's attention
 * reads, and its parameter count as PyTorch counts it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ArchInfo } from './architectures';
import { PixelNormalization } from './normalize';
import { BENCHMARK_KEYS, resnetLayerName, type ResNetConfig } from './resnet';
import { wrnLayerName } from './wrn';

/** Parameters as PyTorch counts them (BN running statistics excluded). */
export function trainableParams(model: tf.LayersModel): number {
  return model.weights.filter((w) => !/moving_(mean|variance)$/.test(w.originalName)).reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/**
 * Recognises an engine-built model by its layer names and reads its architecture back (config from the layer
 * shapes and the normalization layer; key spellings default to the benchmark code's).
 * @returns null when the layer names are not those of a WRN, ResNet-18 or PreAct-ResNet-18
 */
export function architectureOf(model: tf.LayersModel): ArchInfo | null {
  const names = new Set(model.layers.map((l) => l.name));
  const filters = (name: string) => (model.getLayer(name).weights[0]?.shape[3] as number | undefined) ?? NaN;
  const [h, w, c] = model.inputs[0].shape.slice(1) as number[];
  const norm = names.has('normalize') ? model.getLayer('normalize') : undefined;
  const { mean, std } = norm instanceof PixelNormalization ? norm : { mean: new Array(c).fill(0), std: new Array(c).fill(1) };
  const numClasses = model.outputs[model.outputs.length - 1].shape[1] as number;
  const base = { numClasses, inputShape: [h, w, c] as [number, number, number], mean: [...mean], std: [...std] };
  if (names.has('block1_0_add') && names.has(wrnLayerName.fc)) {
    let n = 0;
    while (names.has(`block1_${n}_add`)) n++;
    const widen = filters(wrnLayerName.block(1, 0, 'conv1')) / 16;
    return { arch: 'wrn', config: { ...base, depth: 6 * n + 4, widen }, keys: BENCHMARK_KEYS };
  }
  if (names.has('layer4_1_add') && !names.has('layer1_2_add') && names.has(resnetLayerName.head)) {
    const preAct = !names.has(resnetLayerName.stemBn);
    const config: ResNetConfig = { ...base, width: filters(resnetLayerName.stem), finalBn: preAct && names.has(resnetLayerName.finalBn) };
    return { arch: preAct ? 'preactresnet18' : 'resnet18', config, keys: BENCHMARK_KEYS };
  }
  return null;
}

/**
 * Layers whose outputs are the per-stage feature maps [B, H, W, C] that NAD's attention uses: the three group
 * outputs of a WRN, the outputs of the last three stages of a ResNet.
 * @throws Error when the model is not one of the registered architectures
 */
export function groupOutputs(model: tf.LayersModel): string[] {
  const info = architectureOf(model);
  if (!info) throw new Error('groupOutputs: the model is not a WRN, ResNet-18 or PreAct-ResNet-18 built by this engine (unknown layer names)');
  if (info.arch === 'wrn') {
    const n = (info.config.depth - 4) / 6;
    return [1, 2, 3].map((g) => `block${g}_${n - 1}_add`);
  }
  return [2, 3, 4].map((s) => resnetLayerName.block(s, 1, info.arch === 'resnet18' ? 'out' : 'add'));
}

