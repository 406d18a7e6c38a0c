/**
 * Stage 1 on a toy model with a planted backdoor (white top-left pixel -> class 1): the inversion lowers its
 * loss and finds the planted trigger, respects its budgets and patience, emits its events in order, is
 * deterministic for a seed and leaks no tensors; detection flags the planted class.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InversionConfig, resolveConfig } from '../../../src/engine/defense/config';
import { RunControl } from '../../../src/engine/defense/control';
import { detectTarget } from '../../../src/engine/defense/detect';
import type { DefenseEvent, InvertedTrigger } from '../../../src/engine/defense/events';
import { hasConverged, invertTrigger } from '../../../src/engine/defense/invert';
import { createRng } from '../../../src/engine/random';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { collect } from './collect';
import { toyData, toyModel } from './toy';

let model: tf.LayersModel;
const clean = toyData(32);
const base = (over: Partial<InversionConfig> = {}): InversionConfig => ({ ...resolveConfig({ target: 1 }).inversion, batchSize: 16, ...over });

beforeAll(async () => {
  await initNodeBackend('cpu');
  model = toyModel();
});
afterAll(() => model.dispose());

describe('invertTrigger', () => {
  it('lowers the objective, finds the planted pixel and keeps m, p in [0, 1]', async () => {
    const before = tf.memory().numTensors;
    const { events, result } = await collect(invertTrigger(model, clean, 1, base({ epochs: 40, lr: 0.05 }), createRng(1), new RunControl(undefined, 0)));
    expect(tf.memory().numTensors).toBe(before);
    const epochs = events.filter((e) => e.type === 'inversion-epoch');
    expect(epochs).toHaveLength(40);
    expect(epochs[39].loss).toBeLessThan(epochs[0].loss * 0.5);
    expect(result.attackRate).toBe(1);
    // The mask concentrates on the planted pixel (0, 0), whose pattern turns bright (a partial mask suffices).
    expect(result.mask.indexOf(Math.max(...result.mask))).toBe(0);
    expect(result.mask[0]).toBeGreaterThan(0.2);
    expect(Array.from(result.pattern.slice(0, 3)).every((v) => v > 0.7)).toBe(true);
    expect(result.maskL1).toBeLessThan(3);
    expect(result.mask.every((v) => v >= 0 && v <= 1) && result.pattern.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(result).toMatchObject({ target: 1, height: 8, width: 8, channels: 3, epochs: 40, steps: 80, stoppedEarly: false });
  });

  it('emits step, snapshot, epoch and result events in order, with plain data', async () => {
    const { events, result } = await collect(invertTrigger(model, clean, 2, base({ epochs: 2, snapshotEvery: 3 }), createRng(2), new RunControl()));
    expect(events.map((e) => e.type)).toEqual([
      'inversion-step',
      'inversion-snapshot', // the first step's mask, so a live view has a picture right away
      'inversion-step',
      'inversion-epoch',
      'inversion-step',
      'inversion-snapshot',
      'inversion-step',
      'inversion-epoch',
      'inversion-result',
    ]);
    const step = events[0] as Extract<DefenseEvent, { type: 'inversion-step' }>;
    expect(step).toMatchObject({ target: 2, epoch: 0, step: 1 });
    expect(step.loss).toBeCloseTo(step.ce + 0.01 * step.maskL1, 4);
    const snap = events[5] as Extract<DefenseEvent, { type: 'inversion-snapshot' }>;
    expect(snap.mask).toBeInstanceOf(Float32Array);
    expect(snap.mask).toHaveLength(64);
    expect(snap.pattern).toHaveLength(192);
    expect(snap.maskL1).toBeCloseTo(snap.mask.reduce((a, b) => a + b, 0), 3); // carried, so the page sums nothing
    expect((events[1] as { step: number }).step).toBe(1);
    const last = events[8] as InvertedTrigger;
    expect(last.mask).toEqual(result.mask);
    expect(last.mask).not.toBe(result.mask); // the event's arrays are its own (transferable)
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const run = async (seed: number) => (await collect(invertTrigger(model, clean, 1, base({ epochs: 2 }), createRng(seed), new RunControl(undefined, 0)))).result;
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(a.mask).toEqual(b.mask);
    expect(a.pattern).toEqual(b.pattern);
    expect(a.mask).not.toEqual(c.mask);
  });

  it('stops at maxSteps and after `patience` epochs without L1 improvement', async () => {
    const capped = (await collect(invertTrigger(model, clean, 1, base({ epochs: 10, maxSteps: 3 }), createRng(1), new RunControl(undefined, 0)))).result;
    expect(capped).toMatchObject({ steps: 3, epochs: 2, stoppedEarly: false });
    // lambda 0 and a large lr: the L1 norm soon stops falling, and patience 2 ends the run early.
    const { events, result } = await collect(invertTrigger(model, clean, 1, base({ epochs: 60, lambda: 0, lr: 0.2, patience: 2 }), createRng(1), new RunControl(undefined, 0)));
    expect(result.stoppedEarly).toBe(true);
    expect(result.epochs).toBeLessThan(60);
    const ep = events.filter((e) => e.type === 'inversion-epoch');
    expect(ep[ep.length - 1]).toMatchObject({ stale: 2 });
  });
});

describe('convergence', () => {
  const cv = { rate: 0.99, shrink: 0.1, epochs: 2 };
  it('needs epochs + 1 records, every recent rate at the threshold, and a small shrink', () => {
    expect(hasConverged([{ rate: 1, maskL1: 10 }, { rate: 1, maskL1: 10 }], cv)).toBe(false);
    expect(hasConverged([{ rate: 1, maskL1: 10 }, { rate: 1, maskL1: 9.8 }, { rate: 1, maskL1: 9.5 }], cv)).toBe(true);
    // still shrinking by more than 10% over two epochs
    expect(hasConverged([{ rate: 1, maskL1: 10 }, { rate: 1, maskL1: 9.5 }, { rate: 1, maskL1: 8.9 }], cv)).toBe(false);
    // one recent epoch below the attack rate
    expect(hasConverged([{ rate: 1, maskL1: 10 }, { rate: 0.98, maskL1: 10 }, { rate: 1, maskL1: 10 }], cv)).toBe(false);
    // only the last `epochs` rates count
    expect(hasConverged([{ rate: 0.5, maskL1: 10 }, { rate: 1, maskL1: 10 }, { rate: 1, maskL1: 10 }], cv)).toBe(true);
  });

  it('ends the inversion once the planted trigger works and the mask stops shrinking', async () => {
    const before = tf.memory().numTensors;
    const cfg = base({ epochs: 200, lr: 0.1, converge: { rate: 0.99, shrink: 0.05, epochs: 3 } });
    const { events, result } = await collect(invertTrigger(model, clean, 1, cfg, createRng(1), new RunControl(undefined, 0)));
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toMatchObject({ stoppedEarly: true, converged: true, attackRate: 1 });
    expect(result.epochs).toBeLessThan(200);
    const ep = events.filter((e) => e.type === 'inversion-epoch') as Array<{ attackRate: number; maskL1: number }>;
    expect(ep).toHaveLength(result.epochs);
    expect(ep.slice(-3).every((e) => e.attackRate >= 0.99)).toBe(true);
    const then = ep[ep.length - 4].maskL1;
    expect(then - ep[ep.length - 1].maskL1).toBeLessThan(0.05 * then);
    // Without the test the same budget runs to its end.
    const full = (await collect(invertTrigger(model, clean, 1, { ...cfg, epochs: result.epochs + 5, converge: null }, createRng(1), new RunControl(undefined, 0)))).result;
    expect(full).toMatchObject({ converged: false, epochs: result.epochs + 5 });
  });
});

describe('detectTarget', () => {
  it('flags the planted class among 4 and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const { events, result } = await collect(
      detectTarget(model, clean, 4, base({ lr: 0.05 }), { epochs: 40, maxSteps: 0, lr: null, threshold: 2, scale: 'linear', ifNoneFlagged: 'stop', procedure: 'nc', rounds: [1], finalists: 1, batchSize: 16, initMask: 1, margin: 1.5 }, createRng(3), new RunControl(undefined, 0)),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(events.filter((e) => e.type === 'detection-class').map((e) => (e as { cls: number }).cls)).toEqual([0, 1, 2, 3]);
    expect(events[events.length - 1].type).toBe('detection-result');
    expect(result.report.flagged).toBe(1);
    expect(result.report.anomaly[1]).toBeGreaterThan(2);
    expect(result.triggers.map((t) => t.target)).toEqual([0, 1, 2, 3]);
  });
});
