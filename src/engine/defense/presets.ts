/**
 * Named starting points for a defense run: "paper" (exactly the paper's CIFAR-10 settings, DEFAULT_CONFIG) and
 * "quick" (the class demo: a result within about two minutes on a laptop CPU). The page opens on "quick"; the
 * CLI defaults to "paper" so benchmarks keep the paper's settings.
 *
 * How "quick" was chosen (docs/presets.md and docs/bench/generalize.md have the measurements): the paper's
 * inversion (Adam 0.005, batch 64) needs about 1,600 steps to shrink the mask from its random start (L1 about 512
 * on 32x32); Adam 0.1 at batch 32 gets there in 100-200 steps, with Neural Cleanse's cost schedule so that a
 * working but diffuse mask keeps shrinking, and the run stops once the smallest working mask stops shrinking.
 * Stage 2 keeps the target class (docs/design.md, "Beyond the paper") and runs two epochs at 0.01 then 0.001:
 * on the generalization suite's tuning half, 0.1 (the paper's first epoch) cost 7-8 points of BA in two epochs,
 * 0.01 at most one. Detection inverts every class at once with successive halving. BA / ASR are measured on a
 * small fixed subset while training and on the whole evaluation set at the end.
 */
import type { DefenseConfigInput } from './config';

/** Preset names, as the URL (?preset=) and the CLI (--preset) spell them. */
export type PresetName = 'quick' | 'paper';

/** All preset names, the page's default first. */
export const PRESET_NAMES: readonly PresetName[] = ['quick', 'paper'];

/** A preset: engine settings plus how much clean data it uses. */
export interface DefensePreset {
  name: PresetName;
  /** Short title for a selector ("Class demo"). */
  title: string;
  /** One sentence on what it is for. */
  summary: string;
  /** Overrides of DEFAULT_CONFIG (the paper's settings). */
  config: DefenseConfigInput;
  /** Clean images used, drawn class-balanced from the defender's clean set (0: all of it). */
  cleanImages: number;
  /**
   * Stage-1 epochs after which the convergence test typically ends the inversion, for time estimates (absent
   * without a convergence test). Class demo: 5, the median of the patch attacks' 4, 6, 6 and 5 epochs in
   * docs/presets.md, rounded down (SIG ran out its 8).
   */
  typicalInversionEpochs?: number;
}

/** The class demo. */
export const QUICK_PRESET: DefensePreset = Object.freeze({
  name: 'quick',
  title: 'Class demo',
  summary: '1,000 clean images, trigger inversion until the mask has converged, 2 purification epochs: about two minutes on a laptop CPU',
  cleanImages: 1000,
  typicalInversionEpochs: 5,
  config: {
    batchSize: 32,
    epochs: 2,
    lr: { milestones: [1], values: [0.01, 0.001] },
    keepTarget: true,
    anchor: 1,
    inversion: {
      lr: 0.1,
      batchSize: 32,
      epochs: 8,
      patience: 0,
      converge: { rate: 0.99, shrink: 0.1, epochs: 2, lambda: { up: 1.5, down: 1.5 ** 1.5 }, minEpochs: 3 },
    },
    detection: { procedure: 'halving' as const, lr: 0.1 },
    evalSize: 200,
    evalFinalSize: 0,
  },
});

/** The paper's settings (DEFAULT_CONFIG) on the paper's 5% of the training set. */
export const PAPER_PRESET: DefensePreset = Object.freeze({
  name: 'paper',
  title: 'Paper',
  summary: "the paper's settings: 5% clean data (2,500 images), up to 100 inversion epochs, 20 purification epochs",
  cleanImages: 0,
  config: {},
});

/** Presets by name. */
export const PRESETS: Readonly<Record<PresetName, DefensePreset>> = Object.freeze({ quick: QUICK_PRESET, paper: PAPER_PRESET });

/** True when `name` is a preset name. */
export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/**
 * A preset's config with overrides on top (nested groups merged one level deep, as resolveConfig does).
 */
export function presetConfig(name: PresetName, overrides: DefenseConfigInput = {}): DefenseConfigInput {
  const base = PRESETS[name].config;
  const merged: DefenseConfigInput = { ...base, ...overrides };
  for (const key of ['inversion', 'detection', 'plus', 'nc', 'nad', 'augment'] as const) {
    if (base[key] || overrides[key]) (merged as Record<string, unknown>)[key] = { ...base[key], ...overrides[key] };
  }
  return merged;
}
