/**
 * Neural Cleanse target detection: invert a trigger for every class within a budget, then flag the class whose
 * mask is abnormally small. Anomaly index of class c = |L1_c - median| / (1.4826 * MAD), MAD = median of
 * |L1 - median| (1.4826 makes MAD a consistent estimator of a normal distribution's standard deviation); a class
 * below the median with index > 2 is flagged.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset';
import type { Rng } from '../random';
import type { DetectionConfig, DetectionScale, InversionConfig } from './config';
import type { RunControl } from './control';
import type { DefenseEvent, DetectionReport, InvertedTrigger } from './events';
import { invertTrigger } from './invert';

/** Median as numpy's: the mean of the two middle values for an even count. NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The smallest mask norm the log scale takes (an all-zero mask would otherwise be -Infinity). */
const LOG_FLOOR = 1e-6;

/**
 * Neural Cleanse's verdict on per-class mask norms.
 * @param l1 mask L1 norm per class
 * @param threshold anomaly index above which a class below the median is flagged (2)
 * @param scale 'linear': the index on the L1 norms themselves (Neural Cleanse); 'log': on their logarithms, so the
 *   index measures how many times smaller a mask is rather than by how many pixels (norms are positive and spread
 *   in proportion to their size: when the other classes' masks range from 16 to 54 pixels, a 3-pixel mask is an
 *   outlier only on the log scale). median and mad are reported on the scale used.
 */
export function anomalyReport(l1: readonly number[], threshold = 2, scale: DetectionScale = 'linear'): DetectionReport {
  const values = scale === 'log' ? l1.map((v) => Math.log(Math.max(v, LOG_FLOOR))) : [...l1];
  const med = median(values);
  const mad = median(values.map((v) => Math.abs(v - med)));
  const unit = 1.4826 * mad;
  const anomaly = values.map((v) => {
    const dev = Math.abs(v - med);
    if (unit > 0) return dev / unit;
    return dev === 0 ? 0 : Infinity;
  });
  const flaggedAll = values
    .map((v, c) => c)
    .filter((c) => values[c] < med && anomaly[c] > threshold)
    .sort((a, b) => anomaly[b] - anomaly[a] || l1[a] - l1[b]);
  return { l1: [...l1], scale, anomaly, median: med, mad, threshold, flaggedAll, flagged: flaggedAll.length ? flaggedAll[0] : null };
}

/** What detection found: the report and every class's trigger (plain data, reusable as the final trigger). */
export interface DetectionOutcome {
  report: DetectionReport;
  triggers: InvertedTrigger[];
}

/**
 * Inverts every class with the detection budget (`detection.epochs`, `detection.maxSteps`, `detection.lr`; the rest of the
 * inversion settings as given), emitting each inversion's events, a 'detection-class' per class and the
 * 'detection-result'.
 * @param rng detection's stream; class c inverts with rng.fork(c)
 */
export async function* detectTarget(
  model: tf.LayersModel,
  clean: Dataset,
  numClasses: number,
  inversion: InversionConfig,
  detection: DetectionConfig,
  rng: Rng,
  control: RunControl,
): AsyncGenerator<DefenseEvent, DetectionOutcome, void> {
  if (numClasses < 2) throw new Error(`detection needs at least 2 classes, the model has ${numClasses}`);
  const budget: InversionConfig = { ...inversion, epochs: detection.epochs, maxSteps: detection.maxSteps, lr: detection.lr ?? inversion.lr };
  const triggers: InvertedTrigger[] = [];
  for (let cls = 0; cls < numClasses; cls++) {
    const t = yield* invertTrigger(model, clean, cls, budget, rng.fork(cls), control);
    triggers.push(t);
    yield { type: 'detection-class', cls, maskL1: t.maskL1, attackRate: t.attackRate, done: cls + 1, total: numClasses };
  }
  const report = anomalyReport(
    triggers.map((t) => t.maskL1),
    detection.threshold,
    detection.scale,
  );
  yield { type: 'detection-result', ...report };
  return { report, triggers };
}
