/** The time estimate before the click: the clean images a run uses, and the plan's time at calibrated rates. */
import { describe, expect, it } from 'vitest';
import { applyPreset, DEFAULT_SETTINGS, toStartRequest } from '../../src/ui/settings';
import { chosenRates, cleanUsed, estimateRun, runEta } from '../../src/ui/estimate';
import { formatSeconds } from '../../src/ui/format';
import { applyEvent, newRun, withStatus } from '../../src/ui/store';
import { planRun, planSizes, type StagePlan } from '../../src/engine/defense/plan';
import { resolveConfig } from '../../src/engine/defense/config';
import { createDataset } from '../../src/engine/data/dataset';
import { createRng } from '../../src/engine/random';
import { cutCleanSet } from '../../src/worker/cleanSubset';

const rates = { forward: 400, train: 100, invert: 150 };
const inputs = { cleanCounts: Array<number>(10).fill(250), evalAvailable: 1000, numClasses: 10, knownTarget: 5 };

describe('estimateRun', () => {
  it('uses the preset’s clean budget and the settings’ share', () => {
    expect(cleanUsed(DEFAULT_SETTINGS, inputs.cleanCounts)).toBe(1000);
    expect(cleanUsed(applyPreset(DEFAULT_SETTINGS, 'paper'), inputs.cleanCounts)).toBe(2500);
    expect(cleanUsed({ ...applyPreset(DEFAULT_SETTINGS, 'paper'), cleanPercent: 1 }, inputs.cleanCounts)).toBe(500);
  });

  it('counts the clean images as the worker cuts them (class by class, at least one per class)', () => {
    const counts = [3, 3, 3, 3, 1, 0];
    const labels = counts.flatMap((n, c) => Array<number>(n).fill(c));
    const ds = createDataset({ images: new Uint8Array(labels.length), labels, height: 1, width: 1, channels: 1, classNames: counts.map((_, c) => `c${c}`) });
    for (const [cleanPercent, cleanLimit] of [[2.5, 0], [1, 0], [5, 7], [2.5, 5]]) {
      const s = { ...applyPreset(DEFAULT_SETTINGS, 'paper'), cleanPercent, cleanLimit };
      expect(cleanUsed(s, counts)).toBe(cutCleanSet(ds, { percent: cleanPercent, limit: cleanLimit }, createRng(0)).dataset.n);
    }
  });

  it('caps the probe images at the evaluation set, as the run does', () => {
    const few = estimateRun(applyPreset(DEFAULT_SETTINGS, 'paper'), rates, { ...inputs, evalAvailable: 30 }, 5);
    const cfg = resolveConfig(toStartRequest(applyPreset(DEFAULT_SETTINGS, 'paper'), 5).config);
    expect(few.plan).toEqual(planRun(cfg, planSizes(cfg, { clean: 2500, evalImages: 30, numClasses: 10 })));
    // before: BA and ASR on the 30 images, and the 30 probes with their triggered copies
    expect(few.plan.find((p) => p.stage === 'evaluate')!.forwardImages).toBe(2 * 30 + 2 * 30);
  });

  it('adds up the planned work at the calibrated rates; the class demo is far shorter than the paper', () => {
    const quick = estimateRun(DEFAULT_SETTINGS, rates, inputs, 5);
    const paper = estimateRun(applyPreset(DEFAULT_SETTINGS, 'paper'), rates, inputs, 5);
    // class demo, at most: inversion 8 epochs x 32 steps x 32 images at 150/s; purification 2 x 32 x 32 images
    // and their clean originals (the class preset keeps the target class) trained at 100/s plus twice that
    // forward through the frozen model; evaluations at 400/s
    const inv = (8 * 32 * 32) / 150;
    const pur = (2 * 32 * 2 * 32) / 100 + (2 * 2 * 32 * 32) / 400;
    const evals = (2 * 1000 + 2 * 50 * 10 + 2 * 2 * 200 + 2 * 50 * 10 * 2 + 2 * 1000) / 400; // 50 probes per class and their copies
    expect(quick.atMost).toBeCloseTo(inv + pur + evals, 6);
    expect(quick.typical).toBeCloseTo(quick.atMost - (3 * 32 * 32) / 150, 6);
    expect(paper.typical).toBe(paper.atMost); // no convergence test: the whole budget
    expect(paper.atMost).toBeGreaterThan(20 * quick.atMost);
  });

  it('reads the chosen backend’s rates from the calibration, and formats times', () => {
    const cal = { ...rates, ms: 1, partial: false };
    expect(chosenRates({ backend: 'wasm', detail: '', skipped: [], timings: [{ name: 'webgpu', rates: null, note: 'software' }, { name: 'wasm', rates: cal, note: '' }] })).toBe(cal);
    expect(chosenRates({ backend: 'cpu', detail: '', skipped: [] })).toBeNull();
    expect(formatSeconds(45.4)).toBe('45 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
  });
});

describe('runEta', () => {
  // invert: 8 epochs budget, 80 s at these rates; evaluate 10 s; purify 100 s; final evaluation 10 s
  const plan: StagePlan[] = [
    { stage: 'invert', steps: 80, forwardImages: 0, trainImages: 0, invertImages: 80 * 150 },
    { stage: 'evaluate', steps: 0, forwardImages: 4000, trainImages: 0, invertImages: 0 },
    { stage: 'purify', steps: 100, forwardImages: 0, trainImages: 100 * 100, invertImages: 0 },
    { stage: 'evaluate', steps: 0, forwardImages: 4000, trainImages: 0, invertImages: 0 },
  ];
  const start = (now: number) => applyEvent(applyEvent(newRun(1, 'mcldef', 1000, 0), { type: 'plan', stages: plan }, now), { type: 'stage', stage: 'invert', phase: 'start', label: 'Stage 1', epochs: 8 }, now);

  it('at the start: the plan with stage 1 at its typical length', () => {
    expect(runEta(start(0), rates, 0, 4)).toBeCloseTo(40 + 10 + 100 + 10, 6);
    expect(runEta(start(0), rates, 0, 8)).toBeCloseTo(200, 6);
    expect(runEta(start(0), null, 0, 4)).toBeNull();
  });

  it('rescales by the pace so far: twice as slow as calibrated gives (nearly) twice the time left', () => {
    let r = start(0);
    r = applyEvent(r, { type: 'inversion-epoch', target: 5, epoch: 1, loss: 0, ce: 0, attackRate: 1, maskL1: 10, bestMaskL1: 10, stale: 0 }, 40_000);
    // half of the typical 4 epochs done in 40 s instead of 20: k = (40 + 16) / (20 + 16)
    const left = 20 + 10 + 100 + 10;
    expect(runEta(r, rates, 40_000, 4)).toBeCloseTo((left * 56) / 36, 6);
    // stage 1 converged early and the evaluation started: the rest of its budget is gone from the estimate
    r = applyEvent(r, { type: 'stage', stage: 'invert', phase: 'end', label: 'Stage 1', seconds: 60 }, 60_000);
    r = applyEvent(r, { type: 'stage', stage: 'evaluate', phase: 'start', label: 'Evaluation', epochs: 0 }, 60_000);
    // (its 2 epochs of 8 were 20 s of planned work, done in 60 s)
    expect(r.planUsed).toEqual({ 0: 0.25 });
    expect(runEta(r, rates, 60_000, 4)).toBeCloseTo(((10 + 100 + 10) * (60 + 14)) / (20 + 14), 6);
  });

  it('leaves paused time out of the pace', () => {
    const epoch1 = (r: ReturnType<typeof start>, at: number) =>
      applyEvent(r, { type: 'inversion-epoch', target: 5, epoch: 1, loss: 0, ce: 0, attackRate: 1, maskL1: 10, bestMaskL1: 10, stale: 0 }, at);
    const steady = runEta(epoch1(start(0), 40_000), rates, 40_000, 4)!;
    // the same work, with a 100 s pause in the middle (paused at 10 s, resumed at 110 s)
    let r = withStatus(start(0), 'paused', 10_000);
    expect(runEta(r, rates, 60_000, 4)).toBeCloseTo(runEta(start(0), rates, 10_000, 4)!, 6); // frozen while paused
    r = withStatus(r, 'running', 110_000);
    expect(runEta(epoch1(r, 140_000), rates, 140_000, 4)).toBeCloseTo(steady, 6);
  });

  it('skips plan entries the run passed over', () => {
    let r = applyEvent(newRun(1, 'mcldef', 1000, 0), { type: 'plan', stages: plan }, 0);
    r = applyEvent(r, { type: 'stage', stage: 'evaluate', phase: 'start', label: 'Evaluation', epochs: 0 }, 0);
    expect(r.planAt).toBe(1);
    expect(r.planSkipped).toEqual([0]);
    expect(runEta(r, rates, 0, 4)).toBeCloseTo(10 + 100 + 10, 6);
  });
});
