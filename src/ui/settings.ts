/**
 * Defense settings and their home in the URL (?method=mcldef&target=5&lambda=0.01&...), so a teacher can share a
 * setup by sharing the link. Defaults are the paper's; only values that differ from them are written.
 */
import { DEFAULT_CONFIG, type DefenseConfigInput, type DefenseMethod, DEFENSE_METHODS } from '../engine/defense';
import type { StartRequest } from '../worker/protocol';

/** What the settings panel edits. */
export interface Settings {
  method: DefenseMethod;
  /** 'known' uses the model card's target; 'detect' runs Neural Cleanse detection. */
  targetMode: 'known' | 'detect';
  /** Detection's rule: Neural Cleanse's anomaly index on the mask L1 norms, or the same on their logarithms. */
  detectScale: 'linear' | 'log';
  lambda: number;
  tau: number;
  /** Learning rate of epoch 0; later epochs use /10 and /100 as in the paper's schedule. */
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

/** The paper's settings. */
export const DEFAULT_SETTINGS: Settings = {
  method: 'mcldef',
  targetMode: 'known',
  detectScale: DEFAULT_CONFIG.detection.scale,
  lambda: DEFAULT_CONFIG.inversion.lambda,
  tau: DEFAULT_CONFIG.tau,
  lr: DEFAULT_CONFIG.lr.values[0],
  epochs: DEFAULT_CONFIG.epochs,
  invEpochs: DEFAULT_CONFIG.inversion.epochs,
  cleanPercent: 5,
  cleanLimit: 0,
  seed: 0,
  evalSize: 1000,
  probe: 50,
  compareFt: false,
  refresh: 10,
};

const NUMERIC: Array<[keyof Settings, number, number]> = [
  ['lambda', 0, 10], ['tau', 1e-3, 100], ['lr', 0, 10], ['epochs', 0, 500], ['invEpochs', 1, 1000], ['cleanPercent', 0.01, 5],
  ['cleanLimit', 0, 1e6], ['seed', 0, 2 ** 31 - 1], ['evalSize', 0, 10000], ['probe', 0, 200], ['refresh', 1, 60],
];

/** Reads settings from a query string; ignores unknown or out-of-range values (keeping the default). */
export function settingsFromQuery(search: string): Settings {
  const q = new URLSearchParams(search);
  const s: Settings = { ...DEFAULT_SETTINGS };
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

/** Writes the settings that differ from the defaults into a query string (other parameters are kept). */
export function settingsToQuery(s: Settings, search: string): string {
  const q = new URLSearchParams(search);
  for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof Settings>) q.delete(key === 'targetMode' ? 'target' : key);
  if (s.method !== DEFAULT_SETTINGS.method) q.set('method', s.method);
  if (s.targetMode === 'detect') q.set('target', 'detect');
  if (s.detectScale !== DEFAULT_SETTINGS.detectScale) q.set('detectScale', s.detectScale);
  if (s.compareFt) q.set('compareFt', '1');
  for (const [key] of NUMERIC) if (s[key] !== DEFAULT_SETTINGS[key]) q.set(key, String(s[key]));
  const str = q.toString();
  return str ? `?${str}` : '';
}

/** The engine request for these settings. */
export function toStartRequest(s: Settings, knownTarget: number | null, method: DefenseMethod = s.method): StartRequest {
  const config: DefenseConfigInput = {
    method,
    seed: s.seed,
    epochs: s.epochs,
    tau: s.tau,
    lr: { milestones: [1, 10], values: [s.lr, s.lr / 10, s.lr / 100] },
    inversion: { lambda: s.lambda, epochs: s.invEpochs, snapshotEvery: 5 },
    evalSize: s.evalSize,
    probePerClass: s.probe,
  };
  if (s.targetMode === 'detect' || knownTarget === null) {
    config.detect = true;
    config.detection = { scale: s.detectScale };
  }
  else config.target = knownTarget;
  return { config, cleanPercent: s.cleanPercent, cleanLimit: s.cleanLimit };
}
