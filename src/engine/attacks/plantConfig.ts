/**
 * Settings, events and summary of planting a backdoor ({@link ./plant.ts}): fine-tuning a model on training images
 * of which a share is stamped with a trigger and relabelled to the target (poisoned-label). Plain data only, so the
 * events cross a worker boundary as they are.
 */

/** How a backdoor is planted. */
export interface PlantConfig {
  /** The class triggered images are relabelled to. */
  target: number;
  /** Share of the training images stamped and relabelled, in (0, 1] (of each batch in 'pairs' mode). */
  rate: number;
  /**
   * 'replace': the classic poisoned-label set: a share `rate` of the training images is stamped and relabelled in
   * place. 'pairs': every batch keeps its clean images and adds stamped, relabelled copies of a share `rate` of
   * them, so the trigger is the only difference the labels can follow (faster to plant, gentler on BA).
   */
  mode: 'pairs' | 'replace';
  /** Optimizer steps (SGD with momentum, constant learning rate). */
  steps: number;
  batchSize: number;
  lr: number;
  /** Share of the steps after which the learning rate drops to a tenth (1: never), so BA recovers at the end. */
  lrDrop: number;
  momentum: number;
  /** L2 weight decay added to every gradient (PyTorch SGD style). */
  weightDecay: number;
  /** Measure BA / ASR on the evaluation subset every this many steps (and before the first and after the last). */
  evalEvery: number;
  /** Images of the evaluation set measured during the run (0: all). */
  evalSize: number;
  /** Cap on the training images used, drawn class-balanced with the seed (0: all). */
  trainImages: number;
  /**
   * BatchNorm while planting: 'train' (batch statistics, running averages updated, as FT) or 'frozen' (the running
   * statistics the model came with; scale and shift still trained).
   */
  bn: 'train' | 'frozen';
  /** Random crop (zero padding) and horizontal flip of every batch, poisoned images included. */
  augment: { padding: number; flip: boolean };
  /** Seed of every random choice: the training subset, which images are poisoned, batch order, evaluation subset. */
  seed: number;
}

/** Defaults: measured to plant a drawn 3x3 to 6x6 opaque patch into the shipped clean WRN-16-1 (README, "Attack lab"). */
export const PLANT_DEFAULTS: PlantConfig = {
  target: 5,
  rate: 0.1,
  mode: 'pairs',
  steps: 100,
  batchSize: 64,
  lr: 0.01,
  lrDrop: 0.6,
  momentum: 0.9,
  weightDecay: 1e-4,
  evalEvery: 25,
  evalSize: 500,
  trainImages: 0,
  bn: 'train',
  augment: { padding: 0, flip: false },
  seed: 0,
};

/** Overrides of {@link PLANT_DEFAULTS}. */
export type PlantConfigInput = Partial<Omit<PlantConfig, 'augment'>> & { augment?: Partial<PlantConfig['augment']> };

/** Number of poisoned training images the first event carries, for the page's strip. */
export const PLANT_PREVIEW = 8;

/**
 * Fills in the defaults and checks every value.
 * @throws Error naming the setting and the allowed range (a rate of 0 or above 1, a step count below 1, ...)
 */
export function resolvePlantConfig(input: PlantConfigInput = {}): PlantConfig {
  const cfg: PlantConfig = { ...PLANT_DEFAULTS, ...input, augment: { ...PLANT_DEFAULTS.augment, ...input.augment } };
  const int = (k: keyof PlantConfig, min: number): void => {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < min) throw new Error(`plant: ${k} must be an integer >= ${min}, got ${v}`);
  };
  const pos = (k: keyof PlantConfig, min = 0): void => {
    const v = cfg[k] as number;
    if (!Number.isFinite(v) || v < min) throw new Error(`plant: ${k} must be a number >= ${min}, got ${v}`);
  };
  if (!(cfg.rate > 0 && cfg.rate <= 1)) throw new Error(`plant: the poisoning rate must be in (0, 1] (a share of the training images), got ${cfg.rate}`);
  int('target', 0);
  int('steps', 1);
  int('batchSize', 1);
  int('evalEvery', 1);
  int('evalSize', 0);
  int('trainImages', 0);
  int('seed', 0);
  pos('weightDecay');
  pos('momentum');
  if (!(cfg.lr > 0 && Number.isFinite(cfg.lr))) throw new Error(`plant: lr must be a positive number, got ${cfg.lr}`);
  if (!(cfg.lrDrop > 0 && cfg.lrDrop <= 1)) throw new Error(`plant: lrDrop must be in (0, 1], got ${cfg.lrDrop}`);
  if (cfg.momentum >= 1) throw new Error(`plant: momentum must be below 1, got ${cfg.momentum}`);
  if (cfg.mode !== 'pairs' && cfg.mode !== 'replace') throw new Error(`plant: mode must be 'pairs' or 'replace', got ${String(cfg.mode)}`);
  if (cfg.bn !== 'train' && cfg.bn !== 'frozen') throw new Error(`plant: bn must be 'train' or 'frozen', got ${String(cfg.bn)}`);
  if (!Number.isInteger(cfg.augment.padding) || cfg.augment.padding < 0) throw new Error(`plant: augment.padding must be a non-negative integer, got ${cfg.augment.padding}`);
  return cfg;
}

/** What the run will do, emitted first. */
export interface PlantPlanEvent {
  type: 'plant-plan';
  /** The trigger's display name ("BadNets", "Mask trigger", ...). */
  attack: string;
  target: number;
  rate: number;
  steps: number;
  batchSize: number;
  evalEvery: number;
  /** Training images used, and how many of them carry the trigger with the target's label. */
  trainImages: number;
  /** 'replace': poisoned images in the set; 'pairs': stamped copies the run trains on (per batch x steps). */
  poisoned: number;
  mode: PlantConfig['mode'];
  evalImages: number;
}

/** A few poisoned training images as the model sees them, with the label they had and the one they got. */
export interface PlantPoisonedEvent {
  type: 'plant-poisoned';
  /** [k, H, W, C] uint8, HWC. */
  images: Uint8Array;
  height: number;
  width: number;
  channels: number;
  /** [k] original label and [k] label trained on (the target). */
  original: Int32Array;
  relabelled: Int32Array;
}

/** One optimizer step. */
export interface PlantStepEvent {
  type: 'plant-step';
  /** From 1, of `steps`. */
  step: number;
  steps: number;
  lr: number;
  /** Cross-entropy on the (poisoned) batch. */
  loss: number;
}

/** BA / ASR on the evaluation subset; step 0 is the model before planting. */
export interface PlantEvalEvent {
  type: 'plant-eval';
  step: number;
  ba: number;
  /** Share of triggered non-target images classified as the target. */
  asr: number;
  nClean: number;
  nAsr: number;
  /** Seconds since the run started. */
  seconds: number;
}

/** Plain-data summary of a finished planting. */
export interface PlantSummary {
  config: PlantConfig;
  attack: string;
  trainImages: number;
  poisoned: number;
  /** On the evaluation subset, before the first step and after the last. */
  before: { ba: number; asr: number; n: number };
  after: { ba: number; asr: number; n: number };
  steps: number;
  /** Seconds of training (optimizer steps only) and of the whole run. */
  trainSeconds: number;
  totalSeconds: number;
  imagesPerSecond: number;
}

/** The run finished; the planted model is in the generator's return value. */
export interface PlantDoneEvent {
  type: 'plant-done';
  summary: PlantSummary;
}

/** Every event a planting emits. */
export type PlantEvent = PlantPlanEvent | PlantPoisonedEvent | PlantStepEvent | PlantEvalEvent | PlantDoneEvent;
