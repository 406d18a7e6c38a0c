/**
 * The defense does its job: on the toy model with a planted backdoor (test/engine/defense/toy.ts), MCLDef with the
 * target known inverts the trigger from clean data alone (it finds the planted pixel) and purifies until the true
 * trigger no longer works. Measured by the run's own evaluation events on 400 images the defense never saw. (The
 * toy's labels are random, so its BA sits at chance before and after and is not a measure here.) The paper's
 * learning-rate schedule drops to 0.01 after one epoch; this tiny set (8 steps an epoch) keeps 0.1 for 20 epochs.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvalPoint } from '../../../src/engine/defense/events';
import { driveDefense, runDefense } from '../../../src/engine/defense/run';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { toyData, toyModel, toyTrigger } from './toy';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('MCLDef on the toy backdoor', () => {
  it('takes the true trigger\'s ASR from above 90% to under 10% without being given the trigger', async () => {
    const start = tf.memory().numTensors;
    const model = toyModel();
    const points: Record<string, EvalPoint> = {};
    const result = await driveDefense(
      runDefense(
        { method: 'mcldef', target: 1, seed: 5, batchSize: 32, epochs: 20, lr: { milestones: [], values: [0.1] }, inversion: { epochs: 10, batchSize: 32, lr: 0.05 }, evalSize: 0, probePerClass: 0 },
        { model, clean: toyData(256), evalSet: toyData(400, { seed: 11 }), trueTrigger: toyTrigger, yieldEvery: 0 },
      ),
      (e) => {
        if (e.type === 'evaluation') points[e.when] = e;
      },
    );
    const { before, after } = points;
    console.log(`[toy MCLDef] ASR ${before.asrTrue} -> ${after.asrTrue}, BA ${before.ba} -> ${after.ba}, inverted-trigger ASR ${before.asrInverted} -> ${after.asrInverted}`);
    expect(before.asrTrue).toBeGreaterThan(0.9);
    expect(after.asrTrue).toBeLessThan(0.1);
    expect(after.asrInverted).toBeLessThan(0.1);
    // Stage 1 found the planted trigger: the mask's largest entry is pixel (0, 0).
    const mask = Array.from(result.trigger!.mask);
    expect(mask.indexOf(Math.max(...mask))).toBe(0);
    result.model.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
