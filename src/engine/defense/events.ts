/**
 * What a defense run reports: a discriminated union of plain-data events (numbers, strings, typed arrays, never
 * tensors), so they can cross a worker boundary as they are, and the run's final result. Every event owns its typed
 * arrays (fresh reads or copies, never a buffer the run keeps using), so the worker transfers them instead of
 * copying (src/worker/transfers.ts eventTransfers).
 */
import type * as tf from '@tensorflow/tfjs';
import type { DefenseConfig, DefenseMethod } from './config';
import type { StagePlan } from './plan';
import type { MergeFigure } from './merge';
import type { DefenseStage } from './stages';

export type { MergeFigure } from './merge';

export type { DefenseStage } from './stages';

/** The run's planned work, stage by stage (at most; planRun), emitted first, so a caller can show an ETA. */
export interface PlanEvent {
  type: 'plan';
  stages: StagePlan[];
}

/** A stage starts or ends; `seconds` on 'end'. */
export interface StageEvent {
  type: 'stage';
  stage: DefenseStage;
  phase: 'start' | 'end';
  /** Human-readable, e.g. "Stage 1: trigger inversion (class 5)". */
  label: string;
  seconds?: number;
  /**
   * On 'start': the most epochs the stage runs, so a caller can show its progress without knowing the settings
   * (early stopping may end it sooner). Training and inversion stages count their epochs; detection counts every
   * class's epochs together (`classes` inversions of `epochs / classes` epochs each); evaluation has 0.
   */
  epochs?: number;
  /** On detection's 'start': the classes it inverts, one after another. */
  classes?: number;
}

/** One Adam step of trigger inversion. */
export interface InversionStepEvent {
  type: 'inversion-step';
  /** Class the trigger is inverted for. */
  target: number;
  epoch: number;
  /** Steps so far for this class, from 1. */
  step: number;
  /** CE + lambda * maskL1 on the batch (before the step). */
  loss: number;
  ce: number;
  /** sum of m over H x W (before the step). */
  maskL1: number;
  /** Share of the batch's triggered images classified as `target`. */
  attackRate: number;
}

/** End of an inversion epoch. */
export interface InversionEpochEvent {
  type: 'inversion-epoch';
  target: number;
  epoch: number;
  /** Means over the epoch's steps. */
  loss: number;
  ce: number;
  attackRate: number;
  /** L1 of the mask after the epoch's last step, and the best so far. */
  maskL1: number;
  bestMaskL1: number;
  /** Epochs in a row without improvement (the run stops at `patience`). */
  stale: number;
}

/** The current trigger, every `snapshotEvery` steps. */
export interface InversionSnapshotEvent {
  type: 'inversion-snapshot';
  target: number;
  step: number;
  epoch: number;
  /** [H * W] in [0, 1], row-major. */
  mask: Float32Array;
  /** sum of this mask (the L1 a live view shows beside it). */
  maskL1: number;
  /** [H * W * C] in [0, 1], HWC. */
  pattern: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** A finished inversion (plain data). */
export interface InvertedTrigger {
  target: number;
  /** [H * W] in [0, 1]. */
  mask: Float32Array;
  /** [H * W * C] in [0, 1], HWC. */
  pattern: Float32Array;
  height: number;
  width: number;
  channels: number;
  /** sum of the final mask. */
  maskL1: number;
  /** Attack rate over the last epoch's batches. */
  attackRate: number;
  epochs: number;
  steps: number;
  /** True when patience or convergence (not the epoch or step budget) ended it. */
  stoppedEarly: boolean;
  /** True when the convergence test (InversionConfig.converge) ended it. */
  converged: boolean;
}

/** The final trigger of one inversion. */
export interface InversionResultEvent extends InvertedTrigger {
  type: 'inversion-result';
}

/** Detection finished inverting one class. */
export interface DetectionClassEvent {
  type: 'detection-class';
  cls: number;
  maskL1: number;
  attackRate: number;
  /** Classes done so far, from 1, and the class count. */
  done: number;
  total: number;
}

/** Neural Cleanse's verdict. */
export interface DetectionReport {
  /** Mask L1 per class. */
  l1: number[];
  /** The scale the index is computed on: the L1 norms ('linear') or their logarithms ('log'); median and mad are on it. */
  scale: 'linear' | 'log';
  /** |L1_c - median| / (1.4826 * MAD) per class (Infinity when MAD is 0 and L1_c differs from the median). */
  anomaly: number[];
  median: number;
  mad: number;
  threshold: number;
  /** Classes below the median whose index exceeds the threshold, most anomalous first. */
  flaggedAll: number[];
  /** The most anomalous flagged class, or null when none is flagged. */
  flagged: number | null;
}

/** The detection result. */
export interface DetectionResultEvent extends DetectionReport {
  type: 'detection-result';
}

/** One optimizer step of a training stage (teacher, purify, correct). */
export interface TrainStepEvent {
  type: 'purify-step';
  stage: DefenseStage;
  epoch: number;
  /** Step within the epoch from 1, and the epoch's step count. */
  step: number;
  stepsPerEpoch: number;
  lr: number;
  loss: number;
  /** Named parts of the loss, e.g. { sPos, sNeg } for MCLDef, { ce, at } for NAD. */
  parts: Record<string, number>;
}

/** BA / ASR of a model; null where not measurable (no evaluation set, no trigger, no target). */
export interface EvalPoint {
  ba: number | null;
  /** ASR with the true attack, when the caller gave it. */
  asrTrue: number | null;
  /** ASR with the inverted trigger. */
  asrInverted: number | null;
  /** Images measured: clean, and triggered non-target images. */
  nClean: number;
  nAsr: number;
  /** Accuracy per class on the same clean images (NaN for a class with none there); absent where not measured. */
  perClass?: number[];
  /** Where the triggered probes' features sit (own class / target), when probe features were taken with this point. */
  merge?: MergeFigure | null;
}

/** End of a training epoch. */
export interface TrainEpochEvent extends EvalPoint {
  type: 'purify-epoch';
  stage: DefenseStage;
  epoch: number;
  lr: number;
  /** Mean loss over the epoch. */
  loss: number;
  seconds: number;
}

/** Penultimate features of the fixed probe set, for a live t-SNE. */
export interface ProbeFeaturesEvent {
  type: 'probe-features';
  stage: DefenseStage;
  /** -1: the backdoored model before training; else the epoch just finished. */
  epoch: number;
  /** [N * dim] row-major. */
  features: Float32Array;
  dim: number;
  /** [N] true class of each probe image. */
  labels: Int32Array;
  /** [N] 1 for a triggered copy, 0 for a clean image. */
  triggered: Uint8Array;
  /** Which trigger made the copies. */
  trigger: 'true' | 'inverted' | 'none';
  /** The merge figure of these features (null without triggered copies). */
  merge: MergeFigure | null;
}

/** BA / ASR before or after the defense, on the evaluation subset. */
export interface EvaluationEvent extends EvalPoint {
  type: 'evaluation';
  when: 'before' | 'after';
}

/** Something the caller should know (e.g. detection flagged nothing). */
export interface NoticeEvent {
  type: 'notice';
  message: string;
}

/** Wall time and training throughput of one stage. */
export interface StageTiming {
  stage: DefenseStage;
  seconds: number;
  /** Images through the optimizer (0 for evaluation). */
  images: number;
  imagesPerSecond: number;
}

/** Plain-data summary of a finished run. */
export interface DefenseSummary {
  method: DefenseMethod;
  config: DefenseConfig;
  /** The class purified against (given, or detected), or null. */
  target: number | null;
  detection: DetectionReport | null;
  /** The inverted trigger's statistics (mask and pattern are in the result). */
  inversion: Omit<InvertedTrigger, 'mask' | 'pattern'> | null;
  before: EvalPoint | null;
  after: EvalPoint | null;
  timings: StageTiming[];
  totalSeconds: number;
  /** What went wrong, in words to show (verdict.ts): the target class broken, a diffuse mask, a backdoor left. */
  warnings: DefenseWarning[];
}

/** A warning a finished run gives in words (verdict.ts): a kind for styling and tests, and the sentence to show. */
export interface DefenseWarning {
  kind: 'target-class-drop' | 'diffuse-mask' | 'backdoor-left';
  message: string;
}

/** The run finished; the purified model is in the generator's return value ({@link DefenseResult}). */
export interface DoneEvent {
  type: 'done';
  summary: DefenseSummary;
}

/** Every event a defense run emits. */
export type DefenseEvent =
  | PlanEvent
  | StageEvent
  | InversionStepEvent
  | InversionEpochEvent
  | InversionSnapshotEvent
  | InversionResultEvent
  | DetectionClassEvent
  | DetectionResultEvent
  | TrainStepEvent
  | TrainEpochEvent
  | ProbeFeaturesEvent
  | EvaluationEvent
  | NoticeEvent
  | DoneEvent;

/** The return value of the run's generator. */
export interface DefenseResult {
  /** The purified model: a new model owned by the caller (dispose it). The input model is untouched. */
  model: tf.LayersModel;
  /** The inverted trigger used, if any. */
  trigger: InvertedTrigger | null;
  summary: DefenseSummary;
}
