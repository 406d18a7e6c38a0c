/**
 * The work a defense run will do, counted before it starts (optimizer steps per stage and images through each
 * kind of pass), and the time that takes at measured rates ({@link measureRates}). The page shows the estimate
 * before the click; the ETA during the run rescales it by how fast the run actually goes. Imports no TensorFlow.js,
 * so the page's main thread can plan without loading it.
 */
import { type DefenseConfig, needsTrigger } from './config';
import type { DefenseStage } from './stages';

/** Images per second of the three kinds of pass a run makes, measured on the backend in use. */
export interface WorkRates {
  /** Inference forward passes (evaluation, probe features, the frozen model's features). */
  forward: number;
  /** Training steps: forward in training mode, backward to the weights (optimizer update included). */
  train: number;
  /** Trigger-inversion steps: inference forward, backward to the input only. */
  invert: number;
}

/** One stage's planned work. */
export interface StagePlan {
  stage: DefenseStage;
  /** Optimizer steps at most (0 for evaluation). */
  steps: number;
  /** Images through each kind of pass at most. */
  forwardImages: number;
  trainImages: number;
  invertImages: number;
}

/** Sizes the plan depends on. */
export interface PlanSizes {
  /** Clean images the run trains on. */
  clean: number;
  /** Evaluation images per measurement during the run (after the config's evalSize cut), and before and after it. */
  evalDuring: number;
  evalFinal: number;
  /** Probe images (clean and triggered copies together) per probe-feature pass (0: none). */
  probe: number;
  numClasses: number;
}

/** What the sizes of a run depend on besides its config. */
export interface RunData {
  /** Clean images the run trains on (after the cut: data/cleanCut.ts cleanCount). */
  clean: number;
  /** Evaluation images loaded (0: none; the probe set then comes from the clean images). */
  evalImages: number;
  numClasses: number;
}

/**
 * The sizes a run with this config works on: the evaluation set cut to evalSize during the run and to
 * evalFinalSize (else evalSize) before and after (0: the whole set), and the probe images, at most probePerClass
 * per class of the probe source, each with its triggered copy. The one place these are computed: the run's plan
 * event and the page's estimate both call it.
 */
export function planSizes(cfg: DefenseConfig, data: RunData): PlanSizes {
  const cut = (size: number) => (size > 0 ? Math.min(size, data.evalImages) : data.evalImages);
  const probeSource = data.evalImages > 0 ? data.evalImages : data.clean;
  return {
    clean: data.clean,
    evalDuring: cut(cfg.evalSize),
    evalFinal: cut(cfg.evalFinalSize ?? cfg.evalSize),
    probe: cfg.probePerClass > 0 ? 2 * Math.min(probeSource, cfg.probePerClass * data.numClasses) : 0,
    numClasses: data.numClasses,
  };
}

/** Batches of an epoch (the last one may be short). */
const batchCount = (n: number, batch: number) => Math.ceil(n / batch);

/** Epochs in which the run measures BA / ASR (the last always when evalEvery > 0). */
function evalEpochs(epochs: number, every: number): number {
  if (every <= 0 || epochs === 0) return 0;
  return Math.floor(epochs / every) + (epochs % every === 0 ? 0 : 1);
}

/**
 * The stages a run will go through, in order, with their work at most. An evaluation pass measures BA on the
 * clean subset and ASR on about as many triggered images (twice the images).
 */
export function planRun(cfg: DefenseConfig, sizes: PlanSizes): StagePlan[] {
  const plans: StagePlan[] = [];
  const stage = (s: DefenseStage, steps: number, w: Partial<Omit<StagePlan, 'stage' | 'steps'>>) =>
    plans.push({ stage: s, steps, forwardImages: w.forwardImages ?? 0, trainImages: w.trainImages ?? 0, invertImages: w.invertImages ?? 0 });
  const invSteps = (epochs: number, maxSteps: number) => {
    const n = epochs * batchCount(sizes.clean, cfg.inversion.batchSize);
    return maxSteps > 0 ? Math.min(n, maxSteps) : n;
  };
  const invBatch = Math.min(cfg.inversion.batchSize, sizes.clean);
  if (cfg.detect && cfg.detection.procedure === 'halving') {
    // Every alive class's copy of the batch goes through the model: 10 classes halve to 5, 3, 2, ...
    const d = cfg.detection;
    let alive = sizes.numClasses;
    let images = 0;
    d.rounds.forEach((steps, r) => {
      images += steps * alive * Math.min(d.batchSize, sizes.clean);
      if (r < d.rounds.length - 1) alive = Math.min(alive, Math.max(d.finalists, Math.ceil(alive / 2)));
    });
    stage('detect', d.rounds.reduce((a, b) => a + b, 0), { invertImages: images });
  } else if (cfg.detect) {
    const steps = sizes.numClasses * invSteps(cfg.detection.epochs, cfg.detection.maxSteps);
    stage('detect', steps, { invertImages: steps * invBatch });
  }
  const wantsTrigger = needsTrigger(cfg.method);
  if (wantsTrigger) {
    const steps = invSteps(cfg.inversion.epochs, cfg.inversion.maxSteps);
    stage('invert', steps, { invertImages: steps * invBatch });
  }
  // With evalFinalSize null the result is measured on the per-epoch set, and the last epoch's measurement is reused.
  const separateFinal = cfg.evalFinalSize !== null && cfg.evalFinalSize !== cfg.evalSize;
  const resultImages = separateFinal ? sizes.evalFinal : sizes.evalDuring;
  stage('evaluate', 0, { forwardImages: 2 * resultImages + sizes.probe });
  const full = batchCount(sizes.clean, cfg.batchSize);
  const perEpoch = cfg.maxStepsPerEpoch > 0 ? Math.min(full, cfg.maxStepsPerEpoch) : full;
  const batch = Math.min(cfg.batchSize, sizes.clean);
  // Frozen-model forward passes per trained image: MCLDef 2 (x and x^), MCLDef+ stage 3 1, NAD 1 (teacher), others 0.
  // Keeping the target (config keepTarget) trains on the clean batch beside the triggered one: twice the images.
  const training = (s: DefenseStage, epochs: number, frozenPerImage: number, measured: boolean, trainedPerImage = 1) => {
    const steps = epochs * perEpoch;
    const evals = measured ? evalEpochs(epochs, cfg.evalEvery) : 0;
    const probes = measured && sizes.probe > 0 ? (cfg.probeEvery > 0 ? Math.ceil(epochs / cfg.probeEvery) : 1) : 0;
    stage(s, steps, { trainImages: steps * batch * trainedPerImage, forwardImages: steps * batch * frozenPerImage + evals * 2 * sizes.evalDuring + probes * sizes.probe });
  };
  if (cfg.method === 'mcldef' || cfg.method === 'mcldef+') {
    training('purify', cfg.epochs, 2, true, cfg.keepTarget ? 2 : 1);
    if (cfg.method === 'mcldef+') training('correct', cfg.plus.epochs, 1, true);
  } else if (cfg.method === 'nad') {
    training('teacher', cfg.nad.teacherEpochs, 0, false);
    training('purify', cfg.epochs, 1, true);
  } else {
    training('purify', cfg.epochs, 0, true);
  }
  if (separateFinal || cfg.evalEvery === 0) plans.push({ stage: 'evaluate', steps: 0, forwardImages: 2 * resultImages, trainImages: 0, invertImages: 0 });
  return plans;
}

/** Seconds a stage's work takes at the given rates. */
export function stageSeconds(p: StagePlan, rates: WorkRates): number {
  return p.forwardImages / rates.forward + p.trainImages / rates.train + p.invertImages / rates.invert;
}

/** Seconds a whole plan takes at the given rates. */
export function planSeconds(plans: readonly StagePlan[], rates: WorkRates): number {
  return plans.reduce((s, p) => s + stageSeconds(p, rates), 0);
}
