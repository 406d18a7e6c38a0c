/**
 * CLI formats: `mcldef convert` between a PyTorch .pth (legacy in, zip out), safetensors and TF.js, with identical
 * predictions; data as a .zip of class folders with images of another size (resized to the model), and refusals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args';
import { runConvert } from '../../src/cli/commands/convert';
import { subset } from '../../src/engine/data/dataset';
import { decodeShard } from '../../src/engine/data/shard';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/safetensors';
import { writeZip } from '../../src/engine/io/zipWriter';
import { predict } from '../../src/engine/metrics';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadDataArg } from '../../src/platform/node/data';
import { loadModel } from '../../src/platform/node/modelFiles';
import { repoRoot } from '../helpers/fixtures';
import { pngBytes } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-convert-'));
const pth = path.join(repoRoot, 'test/e2e/fixtures/wrn-16-1-badnets-legacy.pth');
const images = subset(decodeShard(fs.readFileSync(path.join(repoRoot, 'public/data/test-1k.mcld'))), Array.from({ length: 50 }, (_, i) => i * 20));

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('mcldef convert', () => {
  it('legacy .pth -> .pth, .safetensors and TF.js, all predicting alike', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const ref = await loadModel(pth);
      expect(ref.format).toBe('pytorch');
      expect(ref.description).toMatch(/WRN-16-1/);
      const want = Array.from(await predict(ref.model, images));
      ref.model.dispose();
      for (const out of ['m.pth', 'm.safetensors', 'tfjs']) {
        await runConvert(['--model', pth, '--out', path.join(tmp, out)]);
        const back = await loadModel(path.join(tmp, out));
        expect(Array.from(await predict(back.model, images)), out).toEqual(want);
        back.model.dispose();
      }
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/legacy \(pre-1.6\) checkpoint, state_dict under 'net'\)\) -> .*m\.pth/);
    } finally {
      log.mockRestore();
    }
    await expect(runConvert(['--model', pth])).rejects.toThrow(UsageError);
    await expect(runConvert(['--model', pth, '--out', path.join(tmp, 'x.pth'), '--mean', '1,2'])).rejects.toThrow(/--mean must be three numbers/);
    await expect(runConvert(['--model', path.join(repoRoot, 'README.md'), '--out', path.join(tmp, 'y.pth')])).rejects.toThrow(/unsupported model file/);
  }, 120_000);
});

describe('mcldef convert --mean on a safetensors file whose metadata mean is a string', () => {
  it('says the metadata was ignored and --mean applies', async () => {
    const st = path.join(tmp, 'badmean.safetensors');
    await runConvert(['--model', pth, '--out', st]);
    const { tensors } = readSafetensors(fs.readFileSync(st));
    fs.writeFileSync(st, writeSafetensors(tensors, { mean: 'abc' }));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await runConvert(['--model', st, '--mean', '0.5,0.5,0.5', '--out', path.join(tmp, 'fixed.pth')]);
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/safetensors state_dict; its metadata "mean" is "abc", not a list of numbers such as \[0\.5, 0\.5, 0\.5\]: ignored, the mean given applies\)\) -> .*fixed\.pth/);
    } finally {
      log.mockRestore();
    }
  }, 120_000);
});

describe('CLI data formats', () => {
  it('a .zip of class folders with images of another size is resized to the model and named by its classes', async () => {
    const zip = path.join(tmp, 'data.zip');
    fs.writeFileSync(zip, writeZip([{ name: 'set/dog/a.png', data: pngBytes(48, 1) }, { name: 'set/cat/b.png', data: pngBytes(20, 2) }, { name: 'set/readme.txt', data: new Uint8Array([65]) }]));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const cifar = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
      const ds = await loadDataArg(zip, { height: 32, width: 32, classNames: cifar, numClasses: 10 });
      expect([ds.n, ds.height, ds.width, ds.channels]).toEqual([2, 32, 32, 3]);
      expect(Array.from(ds.labels)).toEqual([3, 5]);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/skipped 1 file/);
      const empty = path.join(tmp, 'empty');
      fs.mkdirSync(empty);
      await expect(loadDataArg(empty, { height: 32, width: 32 })).rejects.toThrow(/no files/);
      fs.writeFileSync(path.join(tmp, 'bad.zip'), new Uint8Array([80, 75, 3, 4, 0, 0]));
      await expect(loadDataArg(path.join(tmp, 'bad.zip'), { height: 32, width: 32 })).rejects.toThrow(/bad\.zip/);
    } finally {
      err.mockRestore();
    }
  });
});
