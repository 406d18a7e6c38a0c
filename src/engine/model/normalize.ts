/**
 * PixelNormalization: the model's first layer, (x - mean) / std per channel.
 *
 * Keeping normalization inside the model lets the engine work in [0, 1] pixel space everywhere else, so
 * triggers, masks and patterns are pixels. It is a registered layer class, so it survives a save/load round trip
 * through the TensorFlow.js LayersModel format.
 */
import * as tf from '@tensorflow/tfjs';

/** Serializable configuration of {@link PixelNormalization}. */
export interface PixelNormalizationConfig {
  mean: number[];
  std: number[];
  name?: string;
}

/** Per-channel (x - mean) / std on NHWC input; no trainable weights. */
export class PixelNormalization extends tf.layers.Layer {
  static className = 'PixelNormalization';
  readonly mean: number[];
  readonly std: number[];

  constructor(config: PixelNormalizationConfig) {
    super({ name: config.name });
    if (config.mean.length !== config.std.length || config.mean.length === 0) {
      throw new Error(`PixelNormalization: mean and std need one value per channel (got ${config.mean.length} and ${config.std.length})`);
    }
    if (config.std.some((s) => !(s > 0))) throw new Error('PixelNormalization: every std must be > 0');
    this.mean = [...config.mean];
    this.std = [...config.std];
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs; // [B, H, W, C]
    return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(this.mean)), tf.tensor1d(this.std)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mean: this.mean, std: this.std };
  }
}

tf.serialization.registerClass(PixelNormalization);
