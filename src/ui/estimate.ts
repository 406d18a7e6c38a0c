/**
 * How long a run with the current settings will take on this device, before the click: the engine's plan of the
 * run's work (planRun) at the rates the backend calibration measured. TensorFlow.js-free, for the main thread.
 */
import { resolveConfig } from '../engine/defense/config';
import { planRun, planSeconds, type StagePlan, type WorkRates } from '../engine/defense/plan';
import type { BackendReport } from '../platform/selectBackend';
import { type Settings, toStartRequest } from './settings';

/** What the estimate depends on besides the settings. */
export interface EstimateInputs {
  /** Clean images loaded (before the settings' share and cap). */
  cleanAvailable: number;
  /** Evaluation images loaded. */
  evalAvailable: number;
  numClasses: number;
  /** The model card's target, when known (else the run detects it). */
  knownTarget: number | null;
}

/** A run's estimated time. */
export interface RunEstimate {
  /** Seconds at most (every stage runs its whole budget). */
  atMost: number;
  /** Seconds when stage 1 stops at convergence after its typical epoch count (equals atMost without convergence). */
  typical: number;
  plan: StagePlan[];
}

/** The rates of the backend in use, from its calibration, or null when it was not timed. */
export function chosenRates(backend: BackendReport | null): WorkRates | null {
  return backend?.timings?.find((t) => t.name === backend.backend)?.rates ?? null;
}

/** Clean images a run will use: the settings' share of the loaded set (the demo ships 5%), then the cap. */
export function cleanUsed(s: Settings, available: number): number {
  const share = Math.min(1, s.cleanPercent / 5);
  const n = Math.max(1, Math.floor(available * share));
  return s.cleanLimit > 0 ? Math.min(n, s.cleanLimit) : n;
}

/**
 * Estimates a run with these settings. Stage 1 with a convergence test (the class demo) usually ends after
 * `typicalInvEpochs` epochs, the median the preset comparison measured (docs/presets.md).
 */
export function estimateRun(s: Settings, rates: WorkRates, inputs: EstimateInputs, typicalInvEpochs: number): RunEstimate {
  const cfg = resolveConfig(toStartRequest(s, inputs.knownTarget).config);
  const evalDuring = cfg.evalSize > 0 ? Math.min(cfg.evalSize, inputs.evalAvailable) : inputs.evalAvailable;
  const sizes = {
    clean: cleanUsed(s, inputs.cleanAvailable),
    evalDuring,
    evalFinal: inputs.evalAvailable,
    probe: 2 * s.probe * inputs.numClasses,
    numClasses: inputs.numClasses,
  };
  const plan = planRun(cfg, sizes);
  const atMost = planSeconds(plan, rates);
  const typicalCfg = cfg.inversion.converge ? { ...cfg, inversion: { ...cfg.inversion, epochs: Math.min(cfg.inversion.epochs, typicalInvEpochs) } } : cfg;
  return { atMost, typical: planSeconds(planRun(typicalCfg, sizes), rates), plan };
}

/** "45 s", "2 min 5 s". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '…';
  const r = Math.round(seconds);
  return r >= 60 ? `${Math.floor(r / 60)} min ${r % 60} s` : `${r} s`;
}
