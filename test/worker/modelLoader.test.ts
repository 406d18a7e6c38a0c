/**
 * The page's model loader (src/worker/modelLoader.ts) in Node: a WRN-16-1 saved by PyTorch (zip and legacy .pth,
 * state_dict at the top level and under 'net' with 'module.' prefixes) predicts exactly as PyTorch did; export
 * to .pth / safetensors and back gives identical predictions; bad files get clear errors.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { subset } from '../../src/engine/data/dataset';
import { decodeShard } from '../../src/engine/data/shard';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/safetensors';
import { readTorchCheckpoint, writeTorchCheckpoint } from '../../src/engine/io/torchCheckpoint';
import { stateDictFromModel } from '../../src/engine/model/stateDictExport';
import { predict } from '../../src/engine/metrics';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadModelFromFiles } from '../../src/worker/modelLoader';
import { repoRoot } from '../helpers/fixtures';

const fx = (...p: string[]) => path.join(repoRoot, ...p);
const file = (p: string, name = path.basename(p)) => {
  const b = fs.readFileSync(p);
  return { name, bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
};
const expected = JSON.parse(fs.readFileSync(fx('test/e2e/fixtures/wrn-16-1-badnets-predictions.json'), 'utf8')) as { indices: number[]; predictions: number[] };
const images = subset(decodeShard(fs.readFileSync(fx('public/data/test-1k.mcld'))), expected.indices);

beforeAll(async () => {
  await initNodeBackend('wasm');
});

async function agreement(model: tf.LayersModel): Promise<number> {
  const pred = await predict(model, images);
  return pred.filter((p, i) => p === expected.predictions[i]).length / pred.length;
}

describe('loadModelFromFiles', () => {
  it('says when a safetensors file\'s metadata mean is not a list of numbers and the form\'s mean applies instead', async () => {
    const up = await loadModelFromFiles([file(fx('test/e2e/fixtures', 'wrn-16-1-badnets.pth'))]);
    const st = writeSafetensors(await stateDictFromModel(up.model), { mean: '"abc"', std: '[0.2, 0.2, 0.2]' });
    up.model.dispose();
    const again = await loadModelFromFiles([{ name: 'm.safetensors', bytes: st.slice().buffer as ArrayBuffer }], { mean: [0.5, 0.5, 0.5] });
    expect(again.description).toMatch(/\(safetensors state_dict; its metadata "mean" is "\\"abc\\"", not a list of numbers such as \[0\.5, 0\.5, 0\.5\]: ignored, the mean given applies\)$/);
    again.model.dispose();
    // Without a mean of the form's, the file's bad mean is refused, as before.
    await expect(loadModelFromFiles([{ name: 'm.safetensors', bytes: st.slice().buffer as ArrayBuffer }])).rejects.toThrow(/^m\.safetensors: its metadata "mean" is "\\"abc\\"", expected a list of numbers/);
  });


  it('a PyTorch .pth (zip and legacy) predicts as PyTorch did; export and re-import keeps every prediction', async () => {
    const before = tf.memory().numTensors;
    for (const name of ['wrn-16-1-badnets.pth', 'wrn-16-1-badnets-legacy.pth']) {
      const up = await loadModelFromFiles([file(fx('test/e2e/fixtures', name))]);
      expect(up.arch).toBe('wrn');
      expect(up.description).toMatch(name.includes('legacy') ? /WRN-16-1.*legacy \(pre-1.6\) checkpoint, state_dict under 'net'/ : /WRN-16-1.*PyTorch zip checkpoint, state_dict at the top level/);
      const agree = await agreement(up.model);
      console.log(`${name}: agreement with PyTorch on ${images.n} images ${(100 * agree).toFixed(2)}%`);
      expect(agree).toBe(1);

      // Round trips: .pth and safetensors written by the engine load back with identical predictions.
      const sd = await stateDictFromModel(up.model);
      const ref = await predict(up.model, images);
      const pth = writeTorchCheckpoint(sd);
      expect((await readTorchCheckpoint(pth)).stateDict.size).toBe(sd.size);
      for (const [fname, bytes] of [['re.pth', pth], ['re.safetensors', writeSafetensors(sd)]] as const) {
        const again = await loadModelFromFiles([{ name: fname, bytes: bytes.slice().buffer as ArrayBuffer }]);
        expect(Array.from(await predict(again.model, images)), fname).toEqual(Array.from(ref));
        again.model.dispose();
      }
      up.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('refuses bad files with a message saying what was expected', async () => {
    const before = tf.memory().numTensors;
    const bad = async (files: Array<{ name: string; bytes: ArrayBuffer }>) => loadModelFromFiles(files).then(() => 'loaded', (e: Error) => e.message);
    const torchDir = 'test/golden/fixtures/torch';
    expect(await bad([])).toMatch(/no files/);
    expect(await bad([file(fx(torchDir, 'malicious_os_system.pth'))])).toMatch(/os.*system/);
    expect(await bad([file(fx(torchDir, 'truncated_zip.pth'))])).toMatch(/truncat|end|corrupt/i);
    expect(await bad([file(fx(torchDir, 'whole_module.pth'))])).toMatch(/state_dict/);
    expect(await bad([file(fx('docs/finished-run.png'), 'model.pth')])).toMatch(/not a (PyTorch|torch)/i);
    expect(await bad([file(fx('models/badnets/weights.bin'))])).toMatch(/without their model.json/);
    expect(await bad([file(fx('README.md'))])).toMatch(/no model among README.md/);
    expect(await bad([file(fx('test/e2e/fixtures/wrn-16-1-badnets.pth')), file(fx('test/e2e/fixtures/wrn-16-1-badnets-legacy.pth'))])).toMatch(/several weight files/);
    // A state_dict of the wrong shapes (ResNet keys with a WRN head) and NaN weights.
    const up = await loadModelFromFiles([file(fx('test/e2e/fixtures/wrn-16-1-badnets.pth'))]);
    const sd = await stateDictFromModel(up.model);
    up.model.dispose();
    const fc = sd.get('fc.weight')!;
    const wrongShape = new Map(sd);
    wrongShape.set('fc.weight', { ...fc, shape: [10, 32], data: fc.data.slice(0, 320) });
    expect(await bad([{ name: 'w.safetensors', bytes: writeSafetensors(wrongShape).slice().buffer as ArrayBuffer }])).toMatch(/fc\.weight/);
    const nan = new Map(sd);
    const data = Float32Array.from(fc.data as Float32Array);
    data[3] = NaN;
    nan.set('fc.weight', { ...fc, data });
    expect(await bad([{ name: 'n.safetensors', bytes: writeSafetensors(nan).slice().buffer as ArrayBuffer }])).toMatch(/NaN|not finite/i);
    expect(readSafetensors(writeSafetensors(nan)).tensors.size).toBe(sd.size);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
