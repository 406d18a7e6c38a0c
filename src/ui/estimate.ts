/**
 * How long a run with the current settings will take on this device, before the click: the engine's plan of the
 * run's work (planRun) at the rates the backend calibration measured. TensorFlow.js-free, for the main thread.
 */
import { cleanCount } from '../engine/data/cleanCut';
import { resolveConfig } from '../engine/defense/config';
import { planRun, planSeconds, planSizes, stageSeconds, type StagePlan, type WorkRates } from '../engine/defense/plan';
import type { BackendReport } from '../platform/selectBackend';
import { type Settings, toStartRequest } from './settings';
import { activeMs, type RunView } from './store';

/** What the estimate depends on besides the settings. */
export interface EstimateInputs {
  /** Clean images loaded per class (before the settings' share and cap). */
  cleanCounts: readonly number[];
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

/** Clean images a run will use: the settings' share of the loaded set, class by class, then the cap (as the worker cuts it). */
export function cleanUsed(s: Settings, counts: readonly number[]): number {
  return cleanCount(counts, { percent: s.cleanPercent, limit: s.cleanLimit });
}

/**
 * Estimates a run with these settings. Stage 1 with a convergence test (the class demo) usually ends after
 * `typicalInvEpochs` epochs, the median the preset comparison measured (docs/presets.md).
 */
export function estimateRun(s: Settings, rates: WorkRates, inputs: EstimateInputs, typicalInvEpochs: number): RunEstimate {
  const cfg = resolveConfig(toStartRequest(s, inputs.knownTarget).config);
  const sizes = planSizes(cfg, { clean: cleanUsed(s, inputs.cleanCounts), evalImages: inputs.evalAvailable, numClasses: inputs.numClasses });
  const plan = planRun(cfg, sizes);
  const atMost = planSeconds(plan, rates);
  const typicalCfg = cfg.inversion.converge ? { ...cfg, inversion: { ...cfg.inversion, epochs: Math.min(cfg.inversion.epochs, typicalInvEpochs) } } : cfg;
  return { atMost, typical: planSeconds(planRun(typicalCfg, sizes), rates), plan };
}

/**
 * Seconds left in a run, from the engine's plan at the calibrated rates, rescaled by how fast the run has gone so
 * far (running time, pauses left out, against the planned time of the work done; early on the calibration weighs
 * more). Stage 1 with a convergence test counts `typicalInvEpochs` epochs until it ends. Null without a plan or rates.
 */
export function runEta(run: RunView, rates: WorkRates | null, now: number, typicalInvEpochs: number): number | null {
  if (!run.plan || !rates || run.planAt < 0) return null;
  // A stage 1 that runs past its typical length is expected to end within the next epoch (at most its budget).
  const inverting = run.stage === 'invert' && !run.planEnded;
  const typical = inverting ? Math.max(typicalInvEpochs, Math.floor(run.stageDone) + 1) : typicalInvEpochs;
  const secs = run.plan.map((p, j) => {
    const s = stageSeconds(p, rates);
    // The running stage 1: a budget beyond the typical epochs is expected to go unused.
    return p.stage === 'invert' && j === run.planAt && !run.planEnded && run.stageEpochs > typical ? (s * typical) / run.stageEpochs : s;
  });
  const invFraction = run.stage === 'invert' && run.stageEpochs > typical ? Math.min(1, run.stageDone / typical) : run.stageFraction;
  const inStage = run.planEnded ? (run.planUsed[run.planAt] ?? 1) : invFraction;
  // Entries before planAt either ran or were skipped (their work is not in the elapsed time): only ran ones count.
  let done = secs[run.planAt] * inStage;
  let left = secs[run.planAt] * (1 - inStage);
  for (let j = 0; j < run.planAt; j++) if (!run.planSkipped.includes(j)) done += secs[j] * (run.planUsed[j] ?? 1);
  for (let j = run.planAt + 1; j < secs.length; j++) left += secs[j];
  const elapsed = activeMs(run, now) / 1000; // paused time is no work done
  const c = 0.1 * (done + left);
  return (left * (elapsed + c)) / (done + c);
}
