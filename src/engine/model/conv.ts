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

/** tfjs-layers' class, taken from an instance: the package exports only its factory. */
const StockConv2D = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as typeof Conv2D;

/** Conv2D whose bias-free linear convolutions differentiate lazily (see the file comment). */
export class EngineConv2D extends StockConv2D {
  static override className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    // The stock layer's fields are protected: a subclass reads them as they are.
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const rate: number | number[] = this.dilationRate;
    const dilations = typeof rate === 'number' ? [rate, rate] : rate;
    const plain =
      this.bias == null &&
      this.activation.getClassName() === 'linear' &&
      this.dataFormat === 'channelsLast' &&
      (this.padding === 'same' || this.padding === 'valid') &&
      dilations.every((d) => d === 1) &&
      x.rank === 4 &&
      !(Array.isArray(inputs) && inputs.length !== 1);
    if (!plain) return super.call(inputs, kwargs);
    const padding = this.padding as 'same' | 'valid';
    return tf.tidy(() => tf.conv2d(x as tf.Tensor4D, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], padding));
  }
}

// Deserialization looks classes up by className: 'Conv2D' now builds this one (see model/batchNorm.ts).
tf.serialization.SerializationMap.register(EngineConv2D);

/** A Conv2D layer (the factory wrn.ts and resnet.ts use in place of tf.layers.conv2d). */
export function conv2d(args: ConstructorParameters<typeof Conv2D>[0]): EngineConv2D {
  return new EngineConv2D(args);
}
