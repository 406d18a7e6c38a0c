/**
 * runDefense end to end on tiny workloads (CPU backend): event order and types, plain-data events, the purified
 * model in the return value, determinism for a seed, tensors returned to their count across runs, abort and
 * early return leaking nothing, every method (NAD on a tiny WRN), and detection choosing the target.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DefenseConfigInput } from '../../../src/engine/defense/config';
import type { DefenseEvent, DefenseResult } from '../../../src/engine/defense/events';
import { driveDefense, runDefense, type DefenseDeps } from '../../../src/engine/defense/run';
import { buildWrn, WRN_16_1 } from '../../../src/engine/model/wrn';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { toyData, toyModel, toyTrigger } from './toy';

let model: tf.LayersModel;
const clean = toyData(32);
const evalSet = toyData(24, { seed: 9 });

/** A tiny configuration: 2 inversion epochs, 2 purification epochs of 2 steps, small probes. */
const tiny = (over: DefenseConfigInput = {}): DefenseConfigInput => ({
  target: 1,
  seed: 3,
  batchSize: 16,
  epochs: 2,
  inversion: { epochs: 2, batchSize: 16, lr: 0.05, snapshotEvery: 2 },
  evalSize: 12,
  probePerClass: 2,
  nad: { teacherEpochs: 1 },
  plus: { epochs: 1 },
  ...over,
});
const deps = (over: Partial<DefenseDeps> = {}): DefenseDeps => ({ model, clean, evalSet, trueTrigger: toyTrigger, yieldEvery: 2, ...over });

async function run(config: DefenseConfigInput, d: DefenseDeps = deps()): Promise<{ events: DefenseEvent[]; result: DefenseResult }> {
  const events: DefenseEvent[] = [];
  const result = await driveDefense(runDefense(config, d), (e) => events.push(e));
  return { events, result };
}

/** Event types with consecutive repeats collapsed, stages spelled out. */
function outline(events: DefenseEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const s = e.type === 'stage' ? `${e.stage}:${e.phase}` : e.type === 'evaluation' ? `evaluation:${e.when}` : e.type;
    if (out[out.length - 1] !== s) out.push(s);
  }
  return out;
}

async function weights(m: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(m.getWeights().map(async (w) => new Float32Array(await w.data())));
}

beforeAll(async () => {
  await initNodeBackend('cpu');
  model = toyModel();
});
afterAll(() => model.dispose());

describe('runDefense', () => {
  it('MCLDef: events in order, plain data, purified model returned, input model untouched, no leaks', async () => {
    const w0 = await weights(model);
    const before = tf.memory().numTensors;
    const { events, result } = await run(tiny());
    expect(outline(events)).toEqual([
      'plan',
      'invert:start', 'inversion-step', 'inversion-snapshot', 'inversion-step', 'inversion-snapshot', 'inversion-epoch', 'inversion-step', 'inversion-snapshot', 'inversion-epoch', 'inversion-result', 'invert:end',
      'evaluate:start', 'evaluation:before', 'probe-features', 'evaluate:end',
      'purify:start', 'purify-step', 'probe-features', 'purify-epoch', 'purify-step', 'probe-features', 'purify-epoch', 'purify:end',
      'evaluation:after', 'done',
    ]);
    // The plan comes first and names the stages the run then goes through.
    const plan = events[0];
    if (plan.type !== 'plan') throw new Error('unreachable');
    expect(plan.stages.map((p) => [p.stage, p.steps])).toEqual([['invert', 4], ['evaluate', 0], ['purify', 4]]);
    // Plain data only: no tensor anywhere in the events.
    const hasTensor = (v: unknown): boolean => v instanceof tf.Tensor || (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && Object.values(v).some(hasTensor));
    expect(events.some(hasTensor)).toBe(false);
    const steps = events.filter((e) => e.type === 'purify-step');
    expect(steps).toHaveLength(4);
    expect(steps.map((s) => s.lr)).toEqual([0.1, 0.1, 0.01, 0.01]);
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(Object.keys(s.parts)).toEqual(['sPos', 'sNeg']);
    }
    const beforeEval = events.find((e) => e.type === 'evaluation' && e.when === 'before')!;
    expect(beforeEval).toMatchObject({ nClean: 12 });
    expect((beforeEval as { asrTrue: number }).asrTrue).toBeGreaterThan(0.9); // the planted backdoor works
    const probe = events.find((e) => e.type === 'probe-features')!;
    if (probe.type !== 'probe-features') throw new Error('unreachable');
    expect(probe).toMatchObject({ epoch: -1, dim: 16, trigger: 'true' });
    expect(probe.labels).toHaveLength(8 + 6); // 2 per class, plus triggered copies of the 6 non-target ones
    expect(probe.features).toHaveLength(14 * 16);
    expect(Array.from(probe.triggered)).toEqual([...Array(8).fill(0), ...Array(6).fill(1)]);
    const done = events[events.length - 1];
    if (done.type !== 'done') throw new Error('unreachable');
    expect(done.summary).toMatchObject({ method: 'mcldef', target: 1, detection: null });
    expect(done.summary.timings.map((t) => t.stage)).toEqual(['invert', 'evaluate', 'purify']);
    expect(done.summary.inversion).toMatchObject({ target: 1, steps: 4 });
    expect(result.trigger?.mask).toHaveLength(64);
    expect(result.model).not.toBe(model);
    expect(await weights(model)).toEqual(w0);
    expect(tf.memory().numTensors).toBe(before + result.model.weights.length);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic for a seed, and tensor counts return to the start across two runs', async () => {
    const before = tf.memory().numTensors;
    const a = await run(tiny({ seed: 11 }));
    const wa = await weights(a.result.model);
    a.result.model.dispose();
    const mid = tf.memory().numTensors;
    const b = await run(tiny({ seed: 11 }));
    const wb = await weights(b.result.model);
    b.result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(mid).toBe(before);
    const losses = (r: typeof a) => r.events.filter((e) => e.type === 'purify-step').map((e) => e.loss);
    expect(losses(b)).toEqual(losses(a));
    expect(wb).toEqual(wa);
    const c = await run(tiny({ seed: 12 }));
    expect(losses(c)).not.toEqual(losses(a));
    c.result.model.dispose();
  });

  it('abort: throws an AbortError between steps and frees everything; so does leaving the loop early', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let seen = 0;
    const gen = runDefense(tiny(), deps({ signal: controller.signal }));
    const err = await driveDefense(gen, (e) => {
      if (e.type === 'purify-step' && ++seen === 1) controller.abort();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('AbortError');
    expect(seen).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    // Already aborted before starting.
    await expect(driveDefense(runDefense(tiny(), deps({ signal: { aborted: true } })))).rejects.toMatchObject({ name: 'AbortError' });
    // A consumer that stops iterating mid-run (generator return) also frees everything.
    for await (const e of runDefense(tiny(), deps())) if (e.type === 'purify-step') break;
    expect(tf.memory().numTensors).toBe(before);
  });

  it('yields to the event loop between steps, so timers (a UI) run during a run', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const seen: boolean[] = [];
    const r = await driveDefense(runDefense(tiny({ epochs: 0, inversion: { epochs: 1, batchSize: 16 } }), deps({ yieldEvery: 1 })), (e) => {
      if (e.type === 'inversion-step') seen.push(fired);
    });
    r.model.dispose();
    expect(seen).toEqual([false, true]); // the timer ran at the yield after the first step
  });

  it('FT, NC and MCLDef+ run their stages', async () => {
    const before = tf.memory().numTensors;
    for (const method of ['ft', 'nc', 'mcldef+'] as const) {
      const { events, result } = await run(tiny({ method, probePerClass: 0 }));
      const stages = events.filter((e) => e.type === 'stage' && e.phase === 'start').map((e) => (e as { stage: string }).stage);
      expect(stages, method).toEqual(method === 'ft' ? ['evaluate', 'purify'] : method === 'nc' ? ['invert', 'evaluate', 'purify'] : ['invert', 'evaluate', 'purify', 'correct']);
      const last = events.filter((e) => e.type === 'purify-step').pop()!;
      expect(Object.keys(last.parts), method).toEqual(method === 'mcldef+' ? ['sPos'] : []);
      expect(events.some((e) => e.type === 'probe-features')).toBe(false);
      result.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('detection finds the target when none is given, then purifies against it', async () => {
    const { events, result } = await run(
      tiny({ target: undefined, detect: true, detection: { epochs: 40 }, inversion: { epochs: 2, batchSize: 16, lr: 0.05 }, epochs: 1, probePerClass: 0 }),
      deps({ trueTarget: 1 }),
    );
    const det = events.find((e) => e.type === 'detection-result');
    expect(det).toMatchObject({ flagged: 1 });
    expect(result.summary.target).toBe(1);
    expect(result.summary.detection?.flagged).toBe(1);
    expect(events.some((e) => e.type === 'stage' && e.stage === 'invert')).toBe(false); // detection's budget covered it
    result.model.dispose();
  });

  it('a given stage-1 trigger skips inversion and gives the run that inverted it', async () => {
    const before = tf.memory().numTensors;
    const a = await run(tiny({ method: 'nc', probePerClass: 0 }));
    const trigger = a.result.trigger!;
    const b = await run(tiny({ method: 'nc', probePerClass: 0, target: undefined }), deps({ trigger }));
    expect(b.events.some((e) => e.type === 'stage' && e.stage === 'invert')).toBe(false);
    expect(b.result.summary.target).toBe(trigger.target);
    const losses = (r: typeof a) => r.events.filter((e) => e.type === 'purify-step').map((e) => e.loss);
    expect(losses(b)).toEqual(losses(a));
    expect(await weights(b.result.model)).toEqual(await weights(a.result.model));
    a.result.model.dispose();
    b.result.model.dispose();
    // FT needs no trigger and ignores one; a trigger for another class than the config's is refused.
    const ft = await run(tiny({ method: 'ft', probePerClass: 0 }), deps({ trigger }));
    ft.result.model.dispose();
    await expect(driveDefense(runDefense(tiny({ target: 0 }), deps({ trigger })))).rejects.toThrow(/targets class 1 but the config's target is 0/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects mismatched inputs with clear errors', async () => {
    await expect(driveDefense(runDefense(tiny({ target: 7 }), deps()))).rejects.toThrow(/target 7 is not a class/);
    await expect(driveDefense(runDefense(tiny({ method: 'nad' }), deps()))).rejects.toThrow(/no WRN group outputs/);
    const big = toyData(4);
    await expect(driveDefense(runDefense(tiny(), deps({ clean: { ...big, height: 4, width: 16 } })))).rejects.toThrow(/4x16x3 but the model expects 8x8x3/);
  });
});

describe('runDefense NAD on a tiny WRN', () => {
  it('trains a teacher, then the student with CE + attention distillation at the three group outputs', async () => {
    const wrn = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 4, inputShape: [8, 8, 3] }, 2);
    const before = tf.memory().numTensors;
    const { events, result } = await run(
      { method: 'nad', target: 1, batchSize: 4, epochs: 1, maxStepsPerEpoch: 1, nad: { teacherEpochs: 1 }, evalSize: 4, probePerClass: 1 },
      deps({ model: wrn, clean: toyData(8), evalSet: toyData(8, { seed: 5 }) }),
    );
    const steps = events.filter((e) => e.type === 'purify-step');
    expect(steps.map((s) => s.stage)).toEqual(['teacher', 'purify']);
    expect(Object.keys(steps[1].parts)).toEqual(['ce', 'at']);
    expect(steps[1].loss).toBeCloseTo(steps[1].parts.ce + steps[1].parts.at, 4);
    expect(steps[1].parts.at).toBeGreaterThan(0);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    wrn.dispose();
  });
});
