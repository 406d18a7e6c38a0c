/**
 * plantBackdoor on the toy classifier (CPU backend): the events in order, the backdoor taking hold (ASR up, BA
 * kept), the input model untouched, determinism for a seed, tensors returned to their count (after a run, an abort
 * and an early return), and clear refusals of bad settings and data.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivePlant, plantBackdoor, type PlantDeps, type PlantEvent, type PlantConfigInput } from '../../../src/engine/attacks/plant';
import { resolvePlantConfig } from '../../../src/engine/attacks/plantConfig';
import { rgbaAttack } from '../../../src/engine/attacks/rgba';
import { createDataset, subset } from '../../../src/engine/data/dataset';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { TOY, toyData, toyModel } from '../defense/toy';

/** A 2x2 opaque white patch in the bottom-right corner of the 8x8 toy images. */
function patch(): Uint8Array {
  const rgba = new Uint8Array(TOY.h * TOY.w * 4);
  for (const [r, c] of [[6, 6], [6, 7], [7, 6], [7, 7]]) rgba.set([255, 255, 255, 255], 4 * (r * TOY.w + c));
  return rgba;
}

let model: tf.LayersModel;
const train = toyData(256);
const evalSet = toyData(64, { seed: 9 });
const attack = rgbaAttack(patch(), TOY.h, TOY.w);
const cfg = (over: PlantConfigInput = {}): PlantConfigInput => ({ mode: 'replace', target: 1, rate: 0.25, steps: 40, batchSize: 32, lr: 0.05, evalEvery: 10, evalSize: 0, seed: 4, ...over });
const deps = (over: Partial<PlantDeps> = {}): PlantDeps => ({ model, train, evalSet, attack, yieldEvery: 5, ...over });

async function run(c: PlantConfigInput, d: PlantDeps = deps()) {
  const events: PlantEvent[] = [];
  const result = await drivePlant(plantBackdoor(c, d), (e) => events.push(e));
  return { events, result };
}

beforeAll(async () => {
  await initNodeBackend('cpu');
  model = toyModel({ planted: false });
});
afterAll(() => model.dispose());

describe('plantBackdoor', () => {
  it('plants the trigger: events in order, ASR up, BA kept, the input model untouched, tensors freed', async () => {
    const w0 = new Float32Array(await model.getWeights()[0].data());
    const before = tf.memory().numTensors;
    const { events, result } = await run(cfg());
    const types = events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['plant-plan', 'plant-poisoned', 'plant-eval']);
    expect(types[types.length - 1]).toBe('plant-done');
    expect(types.filter((t) => t === 'plant-step')).toHaveLength(40);
    const evals = events.filter((e) => e.type === 'plant-eval');
    expect(evals.map((e) => e.step)).toEqual([0, 10, 20, 30, 40]);
    const plan = events[0] as Extract<PlantEvent, { type: 'plant-plan' }>;
    expect(plan).toMatchObject({ trainImages: 256, poisoned: 64, evalImages: 64, target: 1 });
    const preview = events[1] as Extract<PlantEvent, { type: 'plant-poisoned' }>;
    expect(preview.relabelled.every((y) => y === 1)).toBe(true);
    expect(preview.original.every((y) => y !== 1)).toBe(true);
    // The preview images carry the patch: pixel (7, 7) is white.
    const size = TOY.h * TOY.w * TOY.c;
    expect(preview.images[size - 1]).toBe(255);
    const { summary } = result;
    console.log(`toy plant: ASR ${summary.before.asr.toFixed(3)} -> ${summary.after.asr.toFixed(3)}, BA ${summary.before.ba.toFixed(3)} -> ${summary.after.ba.toFixed(3)}`);
    expect(summary.after.asr).toBeGreaterThan(0.9);
    expect(summary.after.asr).toBeGreaterThan(summary.before.asr + 0.3);
    expect(summary.steps).toBe(40);
    expect(new Float32Array(await model.getWeights()[0].data())).toEqual(w0);
    expect(tf.memory().numTensors).toBe(before + result.model.weights.length);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("plants in 'pairs' mode: stamped copies beside their clean originals in every batch", async () => {
    const before = tf.memory().numTensors;
    const { events, result } = await run(cfg({ mode: 'pairs', rate: 0.25, steps: 40 }));
    const plan = events[0] as Extract<PlantEvent, { type: 'plant-plan' }>;
    expect(plan).toMatchObject({ mode: 'pairs', trainImages: 256, poisoned: 8 * 40 });
    const preview = events[1] as Extract<PlantEvent, { type: 'plant-poisoned' }>;
    expect(preview.relabelled.every((y) => y === 1)).toBe(true);
    expect(preview.original.every((y) => y !== 1)).toBe(true);
    expect(preview.images[TOY.h * TOY.w * TOY.c - 1]).toBe(255);
    const { summary } = result;
    console.log(`toy plant (pairs): ASR ${summary.before.asr.toFixed(3)} -> ${summary.after.asr.toFixed(3)}, BA ${summary.before.ba.toFixed(3)} -> ${summary.after.ba.toFixed(3)}`);
    expect(summary.after.asr).toBeGreaterThan(0.9);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => resolvePlantConfig({ mode: 'pairs', rate: 0.01, batchSize: 32 })).not.toThrow();
    await expect(plantBackdoor(cfg({ mode: 'pairs', rate: 0.01 }), deps()).next()).rejects.toThrow(/rate 0.01 of a batch of 32 stamps no image/);
  });

  it('is deterministic for a seed', async () => {
    const a = await run(cfg({ steps: 6, evalEvery: 3 }));
    const b = await run(cfg({ steps: 6, evalEvery: 3 }));
    const losses = (ev: PlantEvent[]) => ev.flatMap((e) => (e.type === 'plant-step' ? [e.loss] : []));
    expect(losses(a.events)).toEqual(losses(b.events));
    expect(new Float32Array(await a.result.model.getWeights()[0].data())).toEqual(new Float32Array(await b.result.model.getWeights()[0].data()));
    a.result.model.dispose();
    b.result.model.dispose();
  });

  it('stops on abort and on an early return, freeing every tensor', async () => {
    const before = tf.memory().numTensors;
    const signal = { aborted: false, reason: undefined as unknown };
    let steps = 0;
    await expect(
      drivePlant(plantBackdoor(cfg(), deps({ signal, yieldEvery: 1 })), (e) => {
        if (e.type === 'plant-step' && ++steps === 3) signal.aborted = true;
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    const gen = plantBackdoor(cfg(), deps());
    for (let i = 0; i < 8; i++) await gen.next();
    await gen.return(undefined as never);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses bad settings and data with a clear message', async () => {
    expect(() => resolvePlantConfig({ rate: 0 })).toThrow(/rate must be in \(0, 1\]/);
    expect(() => resolvePlantConfig({ rate: 1.5 })).toThrow(/rate must be in \(0, 1\]/);
    expect(() => resolvePlantConfig({ steps: 0 })).toThrow(/steps must be an integer >= 1/);
    const first = (c: PlantConfigInput, d = deps()) => plantBackdoor(c, d).next();
    await expect(first(cfg({ target: 7 }))).rejects.toThrow(/target 7 is not a class of this 4-class model/);
    const noTarget = subset(train, Array.from({ length: train.n }, (_, i) => i).filter((i) => train.labels[i] !== 1));
    await expect(first(cfg(), deps({ train: noTarget }))).rejects.toThrow(/no images of the target class 1/);
    await expect(first(cfg({ rate: 1 }))).rejects.toThrow(/only 192 of the 256 training images are outside the target class/);
    const small = createDataset({ images: new Uint8Array(4 * 4 * 3 * 2), labels: [0, 1], height: 4, width: 4, channels: 3, classNames: ['a', 'b', 'c', 'd'] });
    await expect(first(cfg(), deps({ train: small }))).rejects.toThrow(/training images are 4x4x3 but the model takes 8x8x3/);
  });
});
