/**
 * The engine's Conv2D layer: tfjs-layers' own, except that a convolution without bias and activation (every
 * convolution of the WRNs and ResNets here) runs as tf.conv2d instead of tf.fused.conv2d.
 *
 * Why: under a gradient tape tf.fused.conv2d is a tf.customGrad whose backward computes the input gradient and
 * the filter gradient every time, needed or not. tf.conv2d's registered gradient hands tfjs one thunk per input
 * and tfjs calls only those on the path to the loss, so
 *   - trigger inversion (gradients w.r.t. the mask and pattern only) computes no filter gradients at all: the
 *     convolution backward-filter kernel was most of a training step's GPU time (docs/bench/webgpu.md);
 *   - fine-tuning computes no input gradient for the first convolution (its input is the data).
 * Same arithmetic, forward and backward. The class name stays 'Conv2D', so model.json files read and write as
 * before; importing this module makes tf.loadLayersModel build this class for every 'Conv2D' it reads.
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2D } from '@tensorflow/tfjs-layers/dist/layers/convolutional';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';

/** tfjs-layers' class, taken from an instance: the package exports only its factory. */
const StockConv2D = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as typeof Conv2D;

/** The stock layer's (protected) fields the call reads. */
interface ConvFields {
  kernel: LayerVariable;
  bias: LayerVariable | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  activation: { getClassName(): string };
}

/** Conv2D whose bias-free linear convolutions differentiate lazily (see the file comment). */
export class EngineConv2D extends StockConv2D {
  static override className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const f = this as unknown as ConvFields;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const dilations = typeof f.dilationRate === 'number' ? [f.dilationRate, f.dilationRate] : f.dilationRate;
    const plain =
      f.bias == null &&
      f.activation.getClassName() === 'linear' &&
      f.dataFormat === 'channelsLast' &&
      (f.padding === 'same' || f.padding === 'valid') &&
      dilations.every((d) => d === 1) &&
      x.rank === 4 &&
      !(Array.isArray(inputs) && inputs.length !== 1);
    if (!plain) return super.call(inputs, kwargs);
    return tf.tidy(() => tf.conv2d(x as tf.Tensor4D, f.kernel.read() as tf.Tensor4D, f.strides as [number, number], f.padding as 'same' | 'valid'));
  }
}

// Deserialization looks classes up by className: 'Conv2D' now builds this one (see model/batchNorm.ts).
tf.serialization.SerializationMap.register(EngineConv2D);

/** A Conv2D layer (the factory wrn.ts and resnet.ts use in place of tf.layers.conv2d). */
export function conv2d(args: ConstructorParameters<typeof Conv2D>[0]): EngineConv2D {
  return new EngineConv2D(args);
}
