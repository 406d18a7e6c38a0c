/**
 * Defense settings and their home in the URL (?preset=paper&method=mcldef&lambda=0.01&...), so a teacher can share
 * a setup by sharing the link. A preset ("Class demo", the default, or "Paper") fills the numbers; only values that
 * differ from the preset's are written, and a setup with any of them edited is "custom".
 */
import { DEFAULT_CONFIG, type DefenseConfigInput, type DefenseMethod, DEFENSE_METHODS, fillConfig } from '../engine/defense/config';
import { isPresetName, type PresetName, presetConfig, PRESETS } from '../engine/defense/presets';
import type { StartRequest } from '../worker/protocol';

/** What the settings panel edits. */
export interface Settings {
  /** The preset the numbers start from. */
  preset: PresetName;
  method: DefenseMethod;
  /** 'known' uses the model card's target; 'detect' runs Neural Cleanse detection. */
  targetMode: 'known' | 'detect';
  /** Detection's rule: Neural Cleanse's anomaly index on the mask L1 norms, or the same on their logarithms. */
  detectScale: 'linear' | 'log';
  lambda: number;
  tau: number;
  /** Learning rate of epoch 0; later epochs follow the preset's schedule scaled to it (the paper's: /10, then /100). */
  lr: number;
  epochs: number;
  invEpochs: number;
  /** Percent of the training set used as clean data (at most the 5% the demo ships). */
  cleanPercent: number;
  /** Cap on clean images (0: none). */
  cleanLimit: number;
  seed: number;
  /** Evaluation images per epoch. */
  evalSize: number;
  /** Probe images per class for the t-SNE. */
  probe: number;
  /** Also run FT with the same settings, for a side-by-side comparison. */
  compareFt: boolean;
  /** UI refreshes per second while a run is in progress. */
  refresh: number;
}

/** The fields a preset sets. */
export type PresetFields = Pick<Settings, 'lambda' | 'tau' | 'lr' | 'epochs' | 'invEpochs' | 'cleanPercent' | 'cleanLimit' | 'evalSize'>;

/** A preset's values of the settings fields (from the engine's preset, so the two cannot drift apart). */
export function presetFields(name: PresetName): PresetFields {
  const c = fillConfig(presetConfig(name));
  return {
    lambda: c.inversion.lambda,
    tau: c.tau,
    lr: c.lr.values[0],
    epochs: c.epochs,
    invEpochs: c.inversion.epochs,
    cleanPercent: 5,
    cleanLimit: PRESETS[name].cleanImages,
    evalSize: c.evalSize,
  };
}

const PRESET_KEYS = Object.keys(presetFields('paper')) as Array<keyof PresetFields>;

/** The page's defaults: the class demo preset. */
export const DEFAULT_SETTINGS: Settings = {
  preset: 'quick',
  method: 'mcldef',
  targetMode: 'known',
  detectScale: DEFAULT_CONFIG.detection.scale,
  ...presetFields('quick'),
  seed: 0,
  probe: 50,
  compareFt: false,
  refresh: 10,
};

/** The settings with `name`'s values (fields no preset sets are kept). */
export function applyPreset(s: Settings, name: PresetName): Settings {
  return { ...s, preset: name, ...presetFields(name) };
}

/** 'quick' / 'paper' while every preset field has its preset's value, else 'custom'. */
export function presetLabel(s: Settings): PresetName | 'custom' {
  const p = presetFields(s.preset);
  return PRESET_KEYS.every((k) => s[k] === p[k]) ? s.preset : 'custom';
}

const NUMERIC: Array<[keyof Settings, number, number]> = [
  ['lambda', 0, 10], ['tau', 1e-3, 100], ['lr', 0, 10], ['epochs', 0, 500], ['invEpochs', 1, 1000], ['cleanPercent', 0.01, 5],
  ['cleanLimit', 0, 1e6], ['seed', 0, 2 ** 31 - 1], ['evalSize', 0, 10000], ['probe', 0, 200], ['refresh', 1, 60],
];

/** Reads settings from a query string; ignores unknown or out-of-range values (keeping the default). */
export function settingsFromQuery(search: string): Settings {
  const q = new URLSearchParams(search);
  const preset = q.get('preset');
  const s: Settings = preset && isPresetName(preset) ? applyPreset(DEFAULT_SETTINGS, preset) : { ...DEFAULT_SETTINGS };
  const m = q.get('method');
  if (m && (DEFENSE_METHODS as readonly string[]).includes(m)) s.method = m as DefenseMethod;
  if (q.get('target') === 'detect') s.targetMode = 'detect';
  if (q.get('detectScale') === 'log') s.detectScale = 'log';
  if (q.get('compareFt') === '1') s.compareFt = true;
  for (const [key, lo, hi] of NUMERIC) {
    const raw = q.get(key);
    if (raw === null) continue;
    const v = Number(raw);
    if (Number.isFinite(v) && v >= lo && v <= hi) (s[key] as number) = v;
  }
  return s;
}

/** Writes the settings that differ from their preset's (and the defaults) into a query string (other parameters are kept). */
export function settingsToQuery(s: Settings, search: string): string {
  const q = new URLSearchParams(search);
  for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof Settings>) q.delete(key === 'targetMode' ? 'target' : key);
  const base = applyPreset(DEFAULT_SETTINGS, s.preset);
  if (s.preset !== DEFAULT_SETTINGS.preset) q.set('preset', s.preset);
  if (s.method !== DEFAULT_SETTINGS.method) q.set('method', s.method);
  if (s.targetMode === 'detect') q.set('target', 'detect');
  if (s.detectScale !== DEFAULT_SETTINGS.detectScale) q.set('detectScale', s.detectScale);
  if (s.compareFt) q.set('compareFt', '1');
  for (const [key] of NUMERIC) if (s[key] !== base[key]) q.set(key, String(s[key]));
  const str = q.toString();
  return str ? `?${str}` : '';
}

/** Evaluation images a run with these settings reports before and after (0: all), as the live check measures. */
export function resultEvalSize(s: Settings): number {
  const c = fillConfig(presetConfig(s.preset, { evalSize: s.evalSize }));
  return c.evalFinalSize ?? c.evalSize;
}

/** The engine request for these settings. */
export function toStartRequest(s: Settings, knownTarget: number | null, method: DefenseMethod = s.method): StartRequest {
  // The preset's learning-rate schedule, scaled so that epoch 0 runs at the chosen rate.
  const schedule = fillConfig(presetConfig(s.preset)).lr;
  const scale = schedule.values[0] > 0 ? s.lr / schedule.values[0] : 0;
  const config: DefenseConfigInput = presetConfig(s.preset, {
    method,
    seed: s.seed,
    epochs: s.epochs,
    tau: s.tau,
    lr: { milestones: schedule.milestones, values: schedule.values.map((v) => (scale > 0 ? v * scale : s.lr)) },
    inversion: { lambda: s.lambda, epochs: s.invEpochs, snapshotEvery: 5 },
    evalSize: s.evalSize,
    probePerClass: s.probe,
  });
  if (s.targetMode === 'detect' || knownTarget === null) {
    config.detect = true;
    config.detection = { ...config.detection, scale: s.detectScale };
  }
  else config.target = knownTarget;
  return { config, cleanPercent: s.cleanPercent, cleanLimit: s.cleanLimit };
}
