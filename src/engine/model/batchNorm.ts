/**
 * The engine's BatchNormalization layer: tfjs-layers' own, with the training-mode call replaced by one
 * differentiable op (kernels/batchNormTrain.ts) and PyTorch's running-variance update.
 *
 * It keeps the class name 'BatchNormalization', its config and its weights (gamma, beta, moving_mean,
 * moving_variance), so model.json files read and write exactly as before and any TF.js tool still loads them;
 * importing this module makes tf.loadLayersModel build this class for every 'BatchNormalization' it reads.
 *
 * Training mode, channels-last input [..., C] (every model here): y = batchNormTrain(x, gamma, beta); then
 *   moving_mean     = m * moving_mean     + (1 - m) * mean
 *   moving_variance = m * moving_variance + (1 - m) * var * R / (R - 1)      (R values per channel)
 * as torch.nn.BatchNorm2d updates running_var (unbiased); tfjs-layers uses the biased variance there.
 * Inference mode and other axes: the inherited call, unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormalization } from '@tensorflow/tfjs-layers/dist/layers/normalization';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import { batchNormTrain } from '../kernels/batchNormTrain';

/** tfjs-layers' class, taken from an instance: the package exports only its factory. */
const StockBatchNormalization = tf.layers.batchNormalization({}).constructor as typeof BatchNormalization;

/** The stock layer's (private) fields the training call reads. */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

/** BatchNormalization with a fused training step (see the file comment). */
export class TrainingBatchNormalization extends StockBatchNormalization {
  static override className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const f = this as unknown as BatchNormFields;
    const axis = f.axis < 0 ? f.axis + x.rank : f.axis;
    if (kwargs.training !== true || Array.isArray(inputs) && inputs.length !== 1 || x.rank < 2 || axis !== x.rank - 1 || x.dtype !== 'float32') {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const running = { mean: f.movingMean.read(), variance: f.movingVariance.read(), momentum: f.momentum };
      const { y, running: next } = batchNormTrain(x, f.gamma?.read() ?? null, f.beta?.read() ?? null, f.epsilon, { running });
      f.movingMean.write(next!.mean);
      f.movingVariance.write(next!.variance);
      return y;
    });
  }
}

// Deserialization looks classes up by className: 'BatchNormalization' now builds this one. (registerClass would
// also rename it 'Custom>BatchNormalization' in saved files; the plain map entry keeps the stock name.)
tf.serialization.SerializationMap.register(TrainingBatchNormalization);

/** A BatchNormalization layer (the factory wrn.ts and resnet.ts use in place of tf.layers.batchNormalization). */
export function batchNormalization(args: ConstructorParameters<typeof BatchNormalization>[0]): TrainingBatchNormalization {
  return new TrainingBatchNormalization(args);
}
