/**
 * Probe features and their merge figure as a run emits them: on a tiny WRN (the event's plumbing, tensors freed),
 * and on the shipped BadNets model (before purification) and the clean model with the demo test subset: the figure
 * must tell a working backdoor from none.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { poisonTestSet } from '../../../src/engine/attacks/poison';
import type { Dataset } from '../../../src/engine/data/dataset';
import { makeProbePlan, probeEvent } from '../../../src/engine/defense/evaluate';
import type { DefenseEvent } from '../../../src/engine/defense/events';
import { driveDefense, runDefense } from '../../../src/engine/defense/run';
import { MERGE_K, mergeFigure } from '../../../src/engine/defense/merge';
import { buildWrn, WRN_16_1 } from '../../../src/engine/model/wrn';
import { createRng } from '../../../src/engine/random';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { attackFromName, loadDataArg } from '../../../src/platform/node/data';
import { loadModel } from '../../../src/platform/node/modelFiles';
import { repoRoot } from '../../helpers/fixtures';
import { toyData, toyModel, toyTrigger } from './toy';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('probeEvent', () => {
  it('carries the merge figure of its own features and frees its tensors', async () => {
    const rng = createRng(2);
    const n = 36;
    const ds: Dataset = {
      images: Uint8Array.from({ length: n * 8 * 8 * 3 }, () => rng.int(256)),
      labels: Int32Array.from({ length: n }, (_, i) => i % 3),
      n, height: 8, width: 8, channels: 3, classNames: ['a', 'b', 'c'],
    };
    const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
    const plan = makeProbePlan(ds, 12, (x) => tf.mul(x, 0.5) as tf.Tensor4D, 2, null, rng.fork('probe'));
    const before = tf.memory().numTensors;
    const e = await probeEvent(model, plan, null, 'purify', 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(e).toMatchObject({ type: 'probe-features', stage: 'purify', epoch: 3, dim: 64, trigger: 'true' });
    expect(e.merge).toMatchObject({ k: MERGE_K, targetClass: 2, nClean: 36, nTriggered: 24 });
    expect(e.merge).toEqual(mergeFigure(e.features, e.dim, e.labels, e.triggered, 2));
    model.dispose();
  });
});

describe('runDefense carries the merge figure', () => {
  it('on the probe events, before, on every epoch point and after', async () => {
    const model = toyModel();
    const events: DefenseEvent[] = [];
    // 24 evaluation images of 4 classes, 6 probes per class: 24 clean probes (> k), 18 triggered copies.
    const config = { method: 'mcldef' as const, target: 1, seed: 3, batchSize: 16, epochs: 2, inversion: { epochs: 1, batchSize: 16 }, evalSize: 12, probePerClass: 6 };
    const result = await driveDefense(runDefense(config, { model, clean: toyData(32), evalSet: toyData(24, { seed: 9 }), trueTrigger: toyTrigger, yieldEvery: 0 }), (e) => events.push(e));
    const probes = events.filter((e) => e.type === 'probe-features');
    const epochs = events.filter((e) => e.type === 'purify-epoch');
    expect(probes.map((e) => e.epoch)).toEqual([-1, 0, 1]);
    for (const e of probes) expect(e.merge).toEqual(mergeFigure(e.features, e.dim, e.labels, e.triggered, 1));
    expect(epochs.map((e) => e.merge)).toEqual([probes[1].merge, probes[2].merge]);
    expect(result.summary.before?.merge).toEqual(probes[0].merge);
    expect(result.summary.after?.merge).toEqual(probes[2].merge);
    expect(probes[0].merge).toMatchObject({ nClean: 24, nTriggered: 18, targetClass: 1 });
    result.model.dispose();
    model.dispose();
  });
});

const badnets = path.join(repoRoot, 'models', 'badnets');
const demo = path.join(repoRoot, 'public', 'data', 'test-1k.mcld');

describe.skipIf(!fs.existsSync(badnets) || !fs.existsSync(demo))('merge figure on the shipped BadNets and clean models', () => {
  // 50 probes per class of test-1k, the BadNets grid on the non-target ones (class 5), as the page's default.
  const figure = async (name: string) => {
    const { model, manifest } = await loadModel(path.join(repoRoot, 'models', name));
    const test = await loadDataArg(demo);
    const target = (manifest!.target as number | undefined) ?? 5;
    const stamped = poisonTestSet(test, await attackFromName('badnets'), target);
    const plan = makeProbePlan(test, 50, stamped, target, null, createRng(0).fork('probe'));
    const e = await probeEvent(model, plan, null, 'purify', -1);
    model.dispose();
    const m = e.merge!;
    console.log(`${name}: isolated ${(100 * m.isolated).toFixed(1)}%, own ${(100 * m.own).toFixed(1)}%, target ${(100 * m.target).toFixed(1)}%, clean ${(100 * m.clean).toFixed(1)}% (${m.nTriggered} triggered / ${m.nClean} clean probes)`);
    expect(m).toMatchObject({ nClean: 500, nTriggered: 450, targetClass: target });
    return m;
  };

  it('reads the triggered probes of the backdoored model as a cluster of their own', async () => {
    const m = await figure('badnets');
    // Measured: isolated 100%, own 43.3%, target 12.4%, clean 72.4%. The triggered features sit apart from every
    // clean probe yet keep much of their class structure, so the clean-neighbour vote is not 0% / 100%.
    expect(m.isolated).toBeGreaterThan(0.95);
    expect(m.own).toBeLessThan(m.clean - 0.2);
    expect(m.target).toBeGreaterThan(0.05);
  });

  it('reads the same trigger on the clean model as merged (the level purification aims for)', async () => {
    const m = await figure('clean');
    // Measured: isolated 8.4%, own 75.6%, target 0.2%, clean 69.8%.
    expect(m.isolated).toBeLessThan(0.25);
    expect(m.own).toBeGreaterThan(m.clean - 0.1);
    expect(m.target).toBeLessThan(0.02);
  });
});
