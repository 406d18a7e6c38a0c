/**
 * Configuration of a defense run ({@link runDefense}): the method, its hyper-parameters and the paper's defaults.
 *
 * Defaults follow docs/design.md (MCLDef paper, CIFAR-10): inversion lambda 0.01, Adam lr 0.005, batch 64, up to 100
 * epochs with patience 30; purification SGD momentum 0.9, weight decay 1e-4, batch 64, 20 epochs, lr 0.1 / 0.01 /
 * 0.001 switching at epochs 1 and 10, temperature 0.5. Values the paper leaves open are marked "our choice".
 */

/** The defenses the engine runs. */
export type DefenseMethod = 'mcldef' | 'mcldef+' | 'ft' | 'nc' | 'nad';

/** All method names, in display order. */
export const DEFENSE_METHODS: readonly DefenseMethod[] = ['mcldef', 'mcldef+', 'ft', 'nc', 'nad'];

/** Methods that need an inverted trigger (stage 1) and therefore a target class. */
export function needsTrigger(method: DefenseMethod): boolean {
  return method === 'mcldef' || method === 'mcldef+' || method === 'nc';
}

/** Piecewise-constant learning rate: values[0] before milestones[0], values[i] from milestones[i-1] on. */
export interface LrSchedule {
  /** Epoch indices (0-based, ascending) where the rate changes. */
  milestones: number[];
  /** milestones.length + 1 rates. */
  values: number[];
}

/** The learning rate of a schedule at a 0-based epoch. */
export function lrAt(schedule: LrSchedule, epoch: number): number {
  let i = 0;
  while (i < schedule.milestones.length && epoch >= schedule.milestones[i]) i++;
  return schedule.values[Math.min(i, schedule.values.length - 1)];
}

/** Stage 1: Neural Cleanse trigger inversion. */
export interface InversionConfig {
  /** Weight of the mask L1 norm (0.01 for 32px images, 0.001 for 224px). */
  lambda: number;
  /** Adam learning rate and moments (PyTorch defaults for betas and epsilon). */
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  batchSize: number;
  /** Maximum epochs over the clean set. */
  epochs: number;
  /** Stop after this many epochs without the mask L1 norm improving. */
  patience: number;
  /** Cap on optimizer steps (0: none); lets a UI or a test bound the work. */
  maxSteps: number;
  /** Emit the mask and pattern every this many steps (0: never; the final trigger is always emitted). */
  snapshotEvery: number;
  /** Stop once the trigger has converged (null: never; the paper runs its epoch budget with patience). */
  converge: InversionConvergence | null;
}

/**
 * When an inversion counts as converged: over the last `epochs` epochs every epoch's attack rate on the clean
 * batches was at least `rate`, and the mask's L1 norm shrank by less than the fraction `shrink` of its value
 * `epochs` epochs earlier. Our choice for the class preset (see presets.ts); not part of the paper's recipe.
 */
export interface InversionConvergence {
  rate: number;
  shrink: number;
  epochs: number;
  /**
   * Neural Cleanse's cost schedule, so a working but diffuse mask keeps shrinking (our choice for the class preset;
   * absent: lambda stays fixed): after an epoch whose attack rate reached `rate` lambda is multiplied by `up`,
   * after one below it divided by `down`. With it the test watches the smallest mask that reached the rate (the
   * inversion's result): converged once that one shrank by less than `shrink` over the last `epochs` epochs.
   */
  lambda?: { up: number; down: number };
  /** Fewest epochs before the test may end the inversion (default 0). */
  minEpochs?: number;
}

/** Where detection measures how far a class's mask norm lies from the others' (see anomalyReport). */
export type DetectionScale = 'linear' | 'log';

/** Neural Cleanse target detection: invert every class within a budget and flag the outlier. */
export interface DetectionConfig {
  /** Inversion epochs per class (the flagged class is then inverted again with the full budget if larger). */
  epochs: number;
  /** Step cap per class (0: none). */
  maxSteps: number;
  /**
   * Adam learning rate of detection's inversions (null: the inversion's 0.005). A larger one (0.05) lets masks
   * shrink within a small budget: from the random start (L1 about half the image) an lr of 0.005 moves each mask
   * pixel at most 0.2 in 40 steps, too little for the outlier to show after one or two epochs.
   */
  lr: number | null;
  /** Anomaly-index threshold (2 in Neural Cleanse). */
  threshold: number;
  /** The anomaly index on the mask L1 norms ('linear', Neural Cleanse) or on their logarithms ('log'). */
  scale: DetectionScale;
  /** When no class is flagged: purify against the class with the smallest L1 ('lowest-l1'), or stop ('stop'). */
  ifNoneFlagged: 'lowest-l1' | 'stop';
  /**
   * 'nc': Neural Cleanse's procedure, one inversion per class with the budget above. 'halving' (our choice for the
   * class preset, detectHalving.ts): every class inverted at once in one batched pass, the worse half dropped
   * after each round; `epochs` and `maxSteps` do not apply.
   */
  procedure: 'nc' | 'halving';
  /** halving: optimizer steps of each round. */
  rounds: number[];
  /** halving: classes still inverted in the last round (at least 1). */
  finalists: number;
  /** halving: a flag needs the best finalist's mask L1 at least this many times smaller than the runner-up's. */
  margin: number;
  /** halving: clean images per step (each stamped once per alive class). */
  batchSize: number;
  /**
   * halving: masks start uniform in [0, initMask] (1: Neural Cleanse's uniform start). A small start lets the
   * target's mask grow where the trigger sits while the others must grow large to attack at all, so the classes
   * part within a few dozen steps instead of waiting for every mask to shrink from half the image.
   */
  initMask: number;
}

/** The whole configuration of a defense run. */
export interface DefenseConfig {
  method: DefenseMethod;
  /** The backdoor's target class, when known (the paper assumes it is). */
  target?: number;
  /** Find the target with Neural Cleanse detection (used when `target` is absent, or to report it anyway). */
  detect: boolean;
  /** Seeds every random choice: initial masks, shuffles, augmentation, evaluation subsets, probes. */
  seed: number;
  /** Purification (all fine-tuning stages). */
  batchSize: number;
  epochs: number;
  lr: LrSchedule;
  momentum: number;
  /** L2 weight decay added to every gradient (PyTorch SGD style). */
  weightDecay: number;
  /** Cap on steps per training epoch (0: none; for tiny runs). */
  maxStepsPerEpoch: number;
  /** Random crop with zero padding + horizontal flip of the clean batches. */
  augment: { padding: number; flip: boolean };
  /** MCLDef contrastive temperature t. */
  tau: number;
  /**
   * BatchNorm of the purified model in MCLDef's stages 2 and 3: 'train' (the paper's code: batch statistics, running
   * averages updated from the triggered batches) or 'frozen' (running statistics of the backdoored model kept).
   */
  purifyBn: 'train' | 'frozen';
  /**
   * Keep the backdoor's target class in stage 2 (our extension, off in the paper's settings): the target class's
   * clean images keep only MCLDef's positive pair, and `anchor` weighs a cross-entropy of the purified model's
   * logits of every triggered image against its true label (mcl.ts KeepTarget).
   */
  keepTarget: boolean;
  /** Weight of the label anchor when keepTarget (0: none). */
  anchor: number;
  inversion: InversionConfig;
  detection: DetectionConfig;
  /** MCLDef+ stage 3 (positive pairs only). Our choice: 10 epochs, lr 0.01 then 0.001 from epoch 5. */
  plus: { epochs: number; lr: LrSchedule };
  /** NC unlearning: share of each batch stamped with the inverted trigger (keeping true labels). */
  nc: { triggerShare: number };
  /**
   * NAD: teacher = the backdoored model fine-tuned with CE for `teacherEpochs` (our choice 10, with `lr`);
   * student = CE + sum_g betas[g] * attention loss at `layers` (default: the WRN group outputs
   * block{g}_{n-1}_add); attention map = mean over channels of |a|^p, L2-normalized per image.
   */
  nad: { teacherEpochs: number; betas: number[]; p: number; layers?: string[] };
  /** Evaluate BA / ASR every this many epochs (0: never; the last epoch is always evaluated when > 0). */
  evalEvery: number;
  /** Images of the evaluation set measured after each epoch (0: all). */
  evalSize: number;
  /**
   * Images measured before and after the run, the figures of the result (0: all; null: the per-epoch set, and
   * the last epoch's measurement is the result). The class preset measures a small subset while it trains and
   * the whole set at the end.
   */
  evalFinalSize: number | null;
  /** Probe images per class for the live feature view (0: none); their triggered copies are added. */
  probePerClass: number;
  /** Compute probe features every this many epochs (0: only before and after). */
  probeEvery: number;
}

/** The paper's settings (CIFAR-10) and the engine's defaults for the rest. */
export const DEFAULT_CONFIG: Readonly<DefenseConfig> = Object.freeze({
  method: 'mcldef',
  detect: false,
  seed: 0,
  batchSize: 64,
  epochs: 20,
  lr: { milestones: [1, 10], values: [0.1, 0.01, 0.001] },
  momentum: 0.9,
  weightDecay: 1e-4,
  maxStepsPerEpoch: 0,
  augment: { padding: 4, flip: true },
  tau: 0.5,
  purifyBn: 'train',
  keepTarget: false,
  anchor: 1,
  inversion: {
    lambda: 0.01,
    lr: 0.005,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    batchSize: 64,
    epochs: 100,
    patience: 30,
    maxSteps: 0,
    snapshotEvery: 20,
    converge: null,
  },
  detection: { epochs: 10, maxSteps: 0, lr: null, threshold: 2, scale: 'linear', ifNoneFlagged: 'lowest-l1', procedure: 'nc', rounds: [60, 30, 30, 60], finalists: 3, margin: 1.5, batchSize: 8, initMask: 1 },
  plus: { epochs: 10, lr: { milestones: [5], values: [0.01, 0.001] } },
  nc: { triggerShare: 0.2 },
  nad: { teacherEpochs: 10, betas: [500, 1000, 1000], p: 2 },
  evalEvery: 1,
  evalSize: 1000,
  evalFinalSize: null,
  probePerClass: 50,
  probeEvery: 1,
} satisfies DefenseConfig);

/** A configuration where any field, nested ones included, may be left out (filled from {@link DEFAULT_CONFIG}). */
export type DefenseConfigInput = Partial<Omit<DefenseConfig, 'inversion' | 'detection' | 'plus' | 'nc' | 'nad' | 'augment'>> & {
  inversion?: Partial<InversionConfig>;
  detection?: Partial<DetectionConfig>;
  plus?: Partial<DefenseConfig['plus']>;
  nc?: Partial<DefenseConfig['nc']>;
  nad?: Partial<DefenseConfig['nad']>;
  augment?: Partial<DefenseConfig['augment']>;
};

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`defense config: ${message}`);
}

const posInt = (v: number) => Number.isInteger(v) && v > 0;
const nonNegInt = (v: number) => Number.isInteger(v) && v >= 0;

/** Fills defaults and validates; throws an Error naming the first bad field. */
export function resolveConfig(input: DefenseConfigInput = {}): DefenseConfig {
  return validateConfig(fillConfig(input));
}

/**
 * Fills defaults (nested groups one level deep) without validating: for callers that read a preset's values
 * (the page's settings, the CLI's option defaults) before the run's method and target are known.
 */
export function fillConfig(input: DefenseConfigInput = {}): DefenseConfig {
  const d = DEFAULT_CONFIG;
  return {
    ...d,
    ...input,
    lr: input.lr ?? d.lr,
    augment: { ...d.augment, ...input.augment },
    inversion: { ...d.inversion, ...input.inversion },
    detection: { ...d.detection, ...input.detection },
    plus: { ...d.plus, ...input.plus },
    nc: { ...d.nc, ...input.nc },
    nad: { ...d.nad, ...input.nad },
  };
}

/** Checks a filled config; throws an Error naming the first bad field. */
export function validateConfig(c: DefenseConfig): DefenseConfig {
  check((DEFENSE_METHODS as readonly string[]).includes(c.method), `unknown method "${c.method}" (expected ${DEFENSE_METHODS.join(', ')})`);
  check(c.target === undefined || nonNegInt(c.target), `target must be a class index, got ${c.target}`);
  check(!needsTrigger(c.method) || c.target !== undefined || c.detect, `${c.method} needs a target class: give target or set detect`);
  check(Number.isFinite(c.seed), 'seed must be a finite number');
  check(posInt(c.batchSize) && posInt(c.inversion.batchSize), 'batch sizes must be positive integers');
  check(nonNegInt(c.epochs) && nonNegInt(c.inversion.epochs) && nonNegInt(c.plus.epochs), 'epochs must be non-negative integers');
  check(nonNegInt(c.nad.teacherEpochs) && posInt(c.detection.epochs), 'teacher epochs >= 0 and detection epochs >= 1');
  check(c.detection.scale === 'linear' || c.detection.scale === 'log', `detection scale must be 'linear' or 'log', got "${c.detection.scale}"`);
  check(c.detection.procedure === 'nc' || c.detection.procedure === 'halving', `detection procedure must be 'nc' or 'halving', got "${c.detection.procedure}"`);
  check(c.detection.rounds.length > 0 && c.detection.rounds.every(posInt) && posInt(c.detection.finalists) && posInt(c.detection.batchSize) && c.detection.initMask > 0 && c.detection.initMask <= 1 && c.detection.margin >= 1, 'detection rounds must be positive step counts (at least one round), finalists and batchSize positive integers, initMask in (0, 1], margin >= 1');
  check(c.detection.lr === null || c.detection.lr > 0, `detection lr must be > 0 (or null), got ${c.detection.lr}`);
  for (const s of [c.lr, c.plus.lr]) {
    check(s.values.length === s.milestones.length + 1 && s.values.every((v) => v >= 0), 'an lr schedule needs milestones.length + 1 non-negative values');
  }
  check(c.tau > 0, `tau must be > 0, got ${c.tau}`);
  check(c.purifyBn === 'train' || c.purifyBn === 'frozen', `purifyBn must be 'train' or 'frozen', got "${c.purifyBn}"`);
  check(typeof c.keepTarget === 'boolean' && c.anchor >= 0, `keepTarget must be true or false and anchor >= 0, got ${c.keepTarget} / ${c.anchor}`);
  check(c.momentum >= 0 && c.momentum < 1 && c.weightDecay >= 0, 'momentum in [0, 1) and weightDecay >= 0');
  check(c.inversion.lambda >= 0 && c.inversion.lr > 0, 'inversion lambda >= 0 and lr > 0');
  check(nonNegInt(c.inversion.patience) && nonNegInt(c.inversion.maxSteps) && nonNegInt(c.inversion.snapshotEvery), 'inversion patience, maxSteps, snapshotEvery >= 0');
  const cv = c.inversion.converge;
  check(cv === null || (cv.rate >= 0 && cv.rate <= 1 && cv.shrink >= 0 && cv.shrink < 1 && posInt(cv.epochs)), 'inversion.converge needs rate in [0, 1], shrink in [0, 1) and epochs >= 1 (or null)');
  check(!cv?.lambda || (cv.lambda.up >= 1 && cv.lambda.down >= 1), 'inversion.converge.lambda needs up >= 1 and down >= 1');
  check(cv?.minEpochs === undefined || nonNegInt(cv.minEpochs), 'inversion.converge.minEpochs must be a non-negative integer');
  check(c.nc.triggerShare >= 0 && c.nc.triggerShare <= 1, 'nc.triggerShare must be in [0, 1]');
  check(c.nad.betas.length > 0 && c.nad.p > 0, 'nad needs at least one beta and p > 0');
  check(!c.nad.layers || c.nad.layers.length === c.nad.betas.length, 'nad.layers and nad.betas must have equal lengths');
  check(nonNegInt(c.augment.padding), 'augment.padding must be a non-negative integer');
  check(nonNegInt(c.evalEvery) && nonNegInt(c.evalSize) && nonNegInt(c.probePerClass) && nonNegInt(c.probeEvery), 'eval/probe settings must be non-negative integers');
  check(c.evalFinalSize === null || nonNegInt(c.evalFinalSize), 'evalFinalSize must be a non-negative integer or null');
  check(nonNegInt(c.maxStepsPerEpoch), 'maxStepsPerEpoch must be a non-negative integer');
  return c;
}
