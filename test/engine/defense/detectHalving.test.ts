/**
 * Batched detection with successive halving on the toy model (white top-left pixel -> class 1): it inverts the
 * planted trigger, raises no alarm on a model without a backdoor, drops classes round by round, plans its work
 * exactly, and leaks no tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DetectionConfig, resolveConfig } from '../../../src/engine/defense/config';
import { RunControl } from '../../../src/engine/defense/control';
import { detectByHalving, survivors } from '../../../src/engine/defense/detectHalving';
import { planRun } from '../../../src/engine/defense/plan';
import { createRng } from '../../../src/engine/random';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { collect } from './collect';
import { toyData, toyModel } from './toy';

const clean = toyData(32);
const cfg = resolveConfig({ method: 'ft', detect: true, inversion: { lr: 0.05 }, detection: { procedure: 'halving', lr: 0.1, rounds: [20, 20, 30], finalists: 2, batchSize: 8 } });
const detection: DetectionConfig = cfg.detection;
let planted: tf.LayersModel;
let unplanted: tf.LayersModel;

beforeAll(async () => {
  await initNodeBackend('cpu');
  planted = toyModel();
  unplanted = toyModel({ planted: false });
});
afterAll(() => {
  planted.dispose();
  unplanted.dispose();
});

describe('detectByHalving', () => {
  it('flags the planted class, keeps it to the end, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const { events, result } = await collect(detectByHalving(planted, clean, 4, cfg.inversion, detection, createRng(3), new RunControl(undefined, 0)));
    expect(tf.memory().numTensors).toBe(before);
    const left = events.filter((e) => e.type === 'detection-class').map((e) => (e as { cls: number }).cls);
    expect([...left].sort()).toEqual([0, 1, 2, 3]);
    expect(left.slice(-2)).toContain(1); // a finalist
    expect(events.filter((e) => e.type === 'inversion-step')).toHaveLength(70);
    expect(result.triggers.map((t) => t.target)).toEqual([0, 1, 2, 3]);
    // The planted class's trigger is the planted pixel. (The random toy model already sends most images to one
    // class, whose empty mask wins: with four classes the anomaly rule cannot single out the planted one.)
    const t1 = result.triggers[1];
    expect(t1.mask.indexOf(Math.max(...t1.mask))).toBe(0);
    expect(t1.attackRate).toBe(1);
    expect(t1.maskL1).toBeLessThan(Math.min(result.triggers[2].maskL1, result.triggers[3].maskL1) / 10);
    expect(result.report.flaggedAll).not.toContain(2);
  });

  it('raises no alarm on the model without a backdoor', async () => {
    const { result } = await collect(detectByHalving(unplanted, clean, 4, cfg.inversion, detection, createRng(3), new RunControl(undefined, 0)));
    expect(result.report.flagged).toBeNull();
  });

  it('keeps the classes with the lowest objective', () => {
    expect(survivors([0, 2, 5, 7], [3, 1, 2, 9], 2)).toEqual([2, 5]);
    expect(survivors([4], [1], 0)).toEqual([4]);
  });

  it('plans every alive class copy of each batch', () => {
    const [p] = planRun(cfg, { clean: 32, evalDuring: 0, evalFinal: 0, probe: 0, numClasses: 4 });
    expect(p).toMatchObject({ stage: 'detect', steps: 70, invertImages: 20 * 4 * 8 + 20 * 2 * 8 + 30 * 2 * 8 });
  });
});
