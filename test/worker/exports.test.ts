/**
 * Downloads of the purified model (src/worker/exports.ts) come from a snapshot read when the run ends: once taken,
 * writing any format touches neither the model nor the backend, so a download cannot wait behind other work queued
 * on a GPU. Checked by disposing the model before writing the files.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { readTorchCheckpoint } from '../../src/engine/io/torchCheckpoint';
import { stateDictFromModel } from '../../src/engine/model/stateDictExport';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { layersModelFiles, snapshotForExport, torchFile } from '../../src/worker/exports';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('exports', () => {
  it('writes .pth, .safetensors and TF.js files from the snapshot after the model is gone', async () => {
    const model = buildWrn(WRN_16_1, 3);
    const reference = await stateDictFromModel(model);
    const snap = await snapshotForExport(model, 'badnets');
    model.dispose();
    const tensorsBefore = tf.memory().numTensors;
    const pth = torchFile(snap, 'pth');
    expect(pth.name).toBe('badnets-purified.pth');
    const ck = await readTorchCheckpoint(new Uint8Array(pth.bytes));
    expect([...ck.stateDict.keys()]).toEqual([...reference.keys()]);
    expect(ck.stateDict.get('fc.weight')?.data).toEqual(reference.get('fc.weight')?.data);
    const st = torchFile(snap, 'safetensors');
    const read = readSafetensors(new Uint8Array(st.bytes));
    expect(read.tensors.size).toBe(reference.size);
    expect(read.metadata).toMatchObject({ producer: 'mcldef-playground', arch: 'wrn' });
    const files = layersModelFiles(snap);
    const bytes = JSON.parse(files.modelJson).weightsManifest[0].weights.reduce((n: number, w: { shape: number[] }) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    expect(files.weights.byteLength).toBe(bytes);
    // Each download is a buffer of its own: transferring one to the page leaves the snapshot whole.
    expect(torchFile(snap, 'pth').bytes).not.toBe(pth.bytes);
    expect(layersModelFiles(snap).weights).not.toBe(files.weights);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('offers no download of a model whose training diverged (a NaN weight), saying which weight', async () => {
    const model = buildWrn(WRN_16_1, 3);
    const w = model.getLayer('fc').getWeights();
    const k = w[0].arraySync() as number[][];
    k[3][2] = NaN;
    model.getLayer('fc').setWeights([tf.tensor2d(k), w[1]]);
    const snap = await snapshotForExport(model, 'badnets');
    model.dispose();
    expect(snap.nonFinite).toMatch(/fc/);
    for (const write of [() => torchFile(snap, 'pth'), () => torchFile(snap, 'safetensors'), () => layersModelFiles(snap)]) {
      expect(write).toThrow(/weight .*fc.* holds NaN or infinite values \(training diverged\): nothing to download/);
    }
    const fine = buildWrn(WRN_16_1, 3);
    expect((await snapshotForExport(fine, 'x')).nonFinite).toBeNull();
    fine.dispose();
  });
});
