/**
 * SIG (Barni et al.), a clean-label attack: a horizontal sinusoid added to every row and channel,
 * x' = clip(x + delta * sin(2 * pi * f * col / W), 0, 255) with delta = 20, f = 6 (W = 32 on CIFAR-10).
 */
import * as tf from '@tensorflow/tfjs';
import { type Attack, checkImage, toUint8 } from './types';

/** Parameters of {@link sig}. */
export interface SigParams {
  /** Amplitude in 0-255 pixel units. Default 20. */
  delta?: number;
  /** Periods across the image width. Default 6. */
  frequency?: number;
}

/**
 * The signal per column, [width], in 0-255 units (float64). The phase is reduced modulo one period and near-zero
 * values snapped, so the columns where the sine is 0 get exactly 0 (cols 0, 8, 16, 24 on CIFAR): unreduced,
 * 20 * sin(2 pi 6 * 16 / 32) = -1.5e-14, which a truncating quantizer would turn into one level darker.
 */
export function sigSignal(width: number, delta = 20, frequency = 6): Float64Array {
  const s = new Float64Array(width);
  for (let col = 0; col < width; col++) {
    const v = delta * Math.sin((2 * Math.PI * ((frequency * col) % width)) / width);
    s[col] = Math.abs(v) < 1e-9 ? 0 : v; // sin(pi) = 1.2e-16 in float64: snap the zeros
  }
  return s;
}

/** Builds the SIG attack. */
export function sig(params: SigParams = {}): Attack {
  const delta = params.delta ?? 20;
  const frequency = params.frequency ?? 6;
  return {
    name: 'sig',
    title: 'SIG',
    description:
      `A faint vertical-stripe sinusoid (amplitude ${delta}/255, ${frequency} periods across the image) added to ` +
      'the whole image; clean-label: only target-class training images carry it, and they keep their labels.',
    kind: 'clean-label',
    stampImage(img, height, width, channels) {
      checkImage('sig', img, height, width, channels);
      const s = sigSignal(width, delta, frequency);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const base = (y * width + x) * channels;
          for (let c = 0; c < channels; c++) img[base + c] = toUint8(img[base + c] + s[x]);
        }
      }
    },
    applyTensor(x) {
      const width = x.shape[2];
      const s = Float32Array.from(sigSignal(width, delta, frequency), (v) => v / 255);
      return tf.tidy(() => {
        const signal = tf.tensor4d(s, [1, 1, width, 1]); // [1, 1, W, 1], broadcast over B, H, C
        return tf.clipByValue(tf.add(x, signal), 0, 1) as tf.Tensor4D;
      });
    },
  };
}
