/**
 * The store's event folding (applyEvent): progress per stage from the stage totals the engine's events carry (never
 * from the settings), the inversion chart one class at a time, evaluations and notices. Synthetic events pin the
 * arithmetic; a real run on the toy model (detection, then MCLDef+'s two training stages) checks that the engine's
 * events fold into a progress bar that only moves forward within a stage and ends each stage full.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DefenseEvent } from '../../src/engine/defense/events';
import { driveDefense, runDefense } from '../../src/engine/defense/run';
import { initNodeBackend } from '../../src/platform/node/backend';
import { DEFAULT_SETTINGS } from '../../src/ui/settings';
import { applyEvent, newRun, type RunView, store } from '../../src/ui/store';
import { toyData, toyModel, toyTrigger } from '../engine/defense/toy';

const fold = (events: DefenseEvent[], run: RunView = newRun(1, 'mcldef', 10, 0)) => events.reduce((r, e) => applyEvent(r, e, 0), run);
const start = (stage: 'detect' | 'invert' | 'teacher' | 'purify' | 'correct' | 'evaluate', epochs: number, classes?: number): DefenseEvent => ({ type: 'stage', stage, phase: 'start', label: stage, epochs, classes });
const invEpoch = (target: number, epoch: number): DefenseEvent => ({ type: 'inversion-epoch', target, epoch, loss: 1, ce: 1, attackRate: 0, maskL1: 5, bestMaskL1: 5, stale: 0 });
const invStep = (target: number, step: number): DefenseEvent => ({ type: 'inversion-step', target, epoch: 0, step, loss: 1, ce: 1, maskL1: 5, attackRate: 0 });
const detClass = (cls: number, total: number): DefenseEvent => ({ type: 'detection-class', cls, maskL1: 5, attackRate: 0.5, done: cls + 1, total });
const trainStep = (stage: 'teacher' | 'purify' | 'correct', epoch: number, step: number, stepsPerEpoch: number): DefenseEvent => ({ type: 'purify-step', stage, epoch, step, stepsPerEpoch, lr: 0.1, loss: 1, parts: {} });

describe('applyEvent', () => {
  it('detection: progress runs over every class in turn, never back to a class-1 fraction', () => {
    // 4 classes of 2 epochs: the 50%-then-1% jump came from dividing each class's epochs by the stage-1 budget.
    const events = [start('detect', 8, 4)];
    for (let c = 0; c < 4; c++) events.push(invEpoch(c, 0), invEpoch(c, 1), detClass(c, 4));
    let r = fold([]);
    const seen: number[] = [];
    for (const e of events) {
      r = applyEvent(r, e, 0);
      seen.push(r.stageFraction);
    }
    expect(seen).toEqual([0, 1 / 8, 2 / 8, 2 / 8, 3 / 8, 4 / 8, 4 / 8, 5 / 8, 6 / 8, 6 / 8, 7 / 8, 1, 1]);
    // A class stopped early (patience after 1 of its 2 epochs): progress moves to the end of its budget.
    expect(fold([start('detect', 8, 4), invEpoch(0, 0), detClass(0, 4)]).stageFraction).toBe(2 / 8);
  });

  it('training stages use their own totals: the NAD teacher and MCLDef+ stage 3 end full', () => {
    const store0 = store.getState().settings;
    // Settings that differ from every stage's budget: the fold must not read them.
    store.set({ settings: { ...DEFAULT_SETTINGS, epochs: 20, invEpochs: 100 } });
    try {
      const teacher = fold([start('teacher', 10), trainStep('teacher', 9, 4, 4)]);
      expect(teacher.stageFraction).toBe(1);
      expect(fold([start('teacher', 10), trainStep('teacher', 4, 2, 4)]).stageFraction).toBeCloseTo(4.5 / 10);
      const correct = fold([start('correct', 3), trainStep('correct', 2, 5, 5)]);
      expect(correct.stageFraction).toBe(1);
      expect(fold([start('invert', 4), invEpoch(5, 0)]).stageFraction).toBe(1 / 4);
      // A new stage starts from zero with its own total.
      const next = fold([start('purify', 2), trainStep('purify', 1, 3, 3), start('correct', 5)]);
      expect([next.stage, next.stageFraction, next.stageEpochs]).toEqual(['correct', 0, 5]);
      expect(fold([start('evaluate', 0)]).stageFraction).toBe(0);
    } finally {
      store.set({ settings: store0 });
    }
  });

  it('draws the inversion chart one class at a time', () => {
    const r = fold([start('detect', 4, 2), invStep(0, 1), invStep(0, 2), detClass(0, 2), invStep(1, 1)]);
    expect(r.inversion.target).toBe(1);
    expect(r.inversion.points.map((p) => p.step)).toEqual([1]);
    const same = fold([start('invert', 2), invStep(3, 1), invStep(3, 2), invStep(3, 3)]);
    expect(same.inversion.points.map((p) => p.step)).toEqual([1, 2, 3]);
  });

  it('keeps the engine notices and the start warnings, and both evaluations', () => {
    const run = newRun(2, 'ft', 5, 0, ['class 3 (cat) has 1 of the 10 clean images per class']);
    const point = { ba: 0.8, asrTrue: 0.9, asrInverted: null, nClean: 20, nAsr: 18, perClass: [1, 0.5] };
    const r = fold([{ type: 'notice', message: 'detection flagged no class' }, { type: 'evaluation', when: 'before', ...point }, { type: 'evaluation', when: 'after', ...point, asrTrue: 0.1 }], run);
    expect(r.notices).toEqual(['class 3 (cat) has 1 of the 10 clean images per class', 'detection flagged no class']);
    expect(r.before?.asrTrue).toBe(0.9);
    expect(r.after?.asrTrue).toBe(0.1);
    expect(r.after?.perClass).toEqual([1, 0.5]);
  });
});

describe('applyEvent on a real run', () => {
  beforeAll(async () => {
    await initNodeBackend('cpu');
  });

  it('folds detection and MCLDef+ into a progress bar that only moves forward and ends each stage full', async () => {
    const model = toyModel();
    const events: DefenseEvent[] = [];
    const result = await driveDefense(
      runDefense(
        {
          method: 'mcldef+', detect: true, seed: 3, batchSize: 16, epochs: 2, evalSize: 12, probePerClass: 0,
          inversion: { epochs: 2, batchSize: 16, lr: 0.05 }, detection: { epochs: 3, lr: 0.05 }, plus: { epochs: 1 },
        },
        { model, clean: toyData(32), evalSet: toyData(24, { seed: 9 }), trueTrigger: toyTrigger, trueTarget: 1, yieldEvery: 0 },
      ),
      (e) => events.push(e),
    );
    result.model.dispose();
    model.dispose();
    let r = newRun(1, 'mcldef+', 32, 0);
    const byStage = new Map<string, number[]>();
    for (const e of events) {
      r = applyEvent(r, e, 0);
      if (r.stage && !(e.type === 'stage' && e.phase === 'end')) byStage.set(r.stage, [...(byStage.get(r.stage) ?? []), r.stageFraction]);
    }
    expect([...byStage.keys()]).toEqual(expect.arrayContaining(['detect', 'evaluate', 'purify', 'correct']));
    for (const [stage, fractions] of byStage) {
      for (let i = 1; i < fractions.length; i++) expect(fractions[i], `${stage} step ${i}`).toBeGreaterThanOrEqual(fractions[i - 1]);
      if (stage !== 'evaluate') expect(fractions[fractions.length - 1], stage).toBeCloseTo(1, 10);
    }
  });
});
