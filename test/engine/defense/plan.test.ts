/**
 * planRun counts a run's work before it starts: the steps per stage equal those a run takes (on the toy model,
 * every method), the paper's run has the paper's step counts, and planSeconds turns work into time.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFENSE_METHODS, DEFAULT_CONFIG, type DefenseConfigInput, resolveConfig } from '../../../src/engine/defense/config';
import type { DefenseEvent, DefenseStage } from '../../../src/engine/defense/events';
import { planRun, planSeconds, planSizes, stageSeconds } from '../../../src/engine/defense/plan';
import { driveDefense, runDefense } from '../../../src/engine/defense/run';
import { buildWrn, WRN_16_1 } from '../../../src/engine/model/wrn';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { toyData, toyModel, toyTrigger } from './toy';

let model: tf.LayersModel;
const clean = toyData(40);
const evalSet = toyData(24, { seed: 9 });

beforeAll(async () => {
  await initNodeBackend('cpu');
  model = toyModel();
});
afterAll(() => model.dispose());

const sizes = { clean: 40, evalDuring: 12, evalFinal: 12, probe: 16, numClasses: 4 };

describe('planRun', () => {
  it('has the paper run’s step counts (2,500 clean images, batch 64)', () => {
    const plan = planRun(resolveConfig({ target: 5 }), { clean: 2500, evalDuring: 1000, evalFinal: 1000, probe: 0, numClasses: 10 });
    const steps = Object.fromEntries(plan.filter((p) => p.steps > 0).map((p) => [p.stage, p.steps]));
    expect(steps).toEqual({ invert: 100 * 40, purify: 20 * 40 });
    const purify = plan.find((p) => p.stage === 'purify')!;
    expect(purify.trainImages).toBe(20 * 40 * 64); // at most: the plan counts every batch full-size
    expect(DEFAULT_CONFIG.evalEvery).toBe(1);
    expect(purify.forwardImages).toBe(2 * purify.trainImages + 20 * 2 * 1000);
  });

  it.each(DEFENSE_METHODS)('counts the steps a %s run takes on the toy model', async (method) => {
    const config: DefenseConfigInput = {
      method,
      target: 1,
      seed: 2,
      batchSize: 16,
      epochs: 2,
      inversion: { epochs: 2, batchSize: 16, snapshotEvery: 0 },
      evalSize: 12,
      probePerClass: 0,
      nad: { teacherEpochs: 1 },
      plus: { epochs: 1 },
    };
    const counted: Partial<Record<DefenseStage, number>> = {};
    const count = (e: DefenseEvent) => {
      if (e.type === 'inversion-step') counted.invert = (counted.invert ?? 0) + 1;
      if (e.type === 'purify-step') counted[e.stage] = (counted[e.stage] ?? 0) + 1;
    };
    // NAD needs feature maps: a tiny WRN stands in for the toy model there.
    const m = method === 'nad' ? buildWrn({ ...WRN_16_1, depth: 10, numClasses: 4, inputShape: [8, 8, 3] }, 2) : model;
    const r = await driveDefense(runDefense(config, { model: m, clean, evalSet, trueTrigger: toyTrigger, yieldEvery: 0 }), count);
    r.model.dispose();
    if (m !== model) m.dispose();
    const plan = planRun(resolveConfig(config), { ...sizes, probe: 0 });
    const planned = Object.fromEntries(plan.filter((p) => p.steps > 0).map((p) => [p.stage, p.steps]));
    expect(planned).toEqual(counted);
  }, 300_000); // NAD's WRN on the cpu backend takes about 40 s alone, and passed 120 s in a full run on a busy machine
});

describe('the run follows its plan', () => {
  // Every planned entry is announced by a 'stage' start event, in the plan's order: the trailing whole-set
  // evaluation of the class demo (evalFinalSize differs from evalSize) included, and its time is in the timings.
  it.each([
    ['a separate result set', { evalSize: 12, evalFinalSize: 0, evalEvery: 1 }],
    ['no per-epoch measurement', { evalSize: 12, evalFinalSize: null, evalEvery: 0 }],
    ['the result reused from the last epoch', { evalSize: 12, evalFinalSize: null, evalEvery: 1 }],
  ] as const)('with %s', async (_, evalCfg) => {
    const config: DefenseConfigInput = {
      target: 1, seed: 3, batchSize: 16, epochs: 1, inversion: { epochs: 1, batchSize: 16, snapshotEvery: 0 }, probePerClass: 2, ...evalCfg,
    };
    let planned: DefenseStage[] = [];
    const started: DefenseStage[] = [];
    const r = await driveDefense(runDefense(config, { model, clean, evalSet, trueTrigger: toyTrigger, yieldEvery: 0 }), (e) => {
      if (e.type === 'plan') planned = e.stages.map((p) => p.stage);
      if (e.type === 'stage' && e.phase === 'start') started.push(e.stage);
    });
    r.model.dispose();
    const cfg = resolveConfig(config);
    expect(planned).toEqual(planRun(cfg, planSizes(cfg, { clean: clean.n, evalImages: evalSet.n, numClasses: 4 })).map((p) => p.stage));
    expect(started).toEqual(planned);
    expect(r.summary.timings.map((t) => t.stage)).toEqual(planned);
  });
});

describe('planSeconds', () => {
  it('adds each kind of pass at its rate', () => {
    const plan = planRun(resolveConfig({ target: 1, batchSize: 16, epochs: 2, inversion: { epochs: 2, batchSize: 16 }, evalSize: 12 }), sizes);
    const rates = { forward: 100, train: 10, invert: 20 };
    const total = plan.reduce((s, p) => s + p.forwardImages / 100 + p.trainImages / 10 + p.invertImages / 20, 0);
    expect(planSeconds(plan, rates)).toBeCloseTo(total, 9);
    expect(stageSeconds(plan[0], rates)).toBeCloseTo(plan[0].invertImages / 20, 9);
    // doubling every rate halves the time
    expect(planSeconds(plan, { forward: 200, train: 20, invert: 40 })).toBeCloseTo(total / 2, 9);
  });
});
