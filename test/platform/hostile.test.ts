/**
 * Hostile paths and files at the Node platform level: FIFOs, devices and folders where files are expected, size
 * caps, --out on /proc or on an existing file, symlinks planted at output names, non-finite weights, weight paths
 * outside the model folder, empty shards, class folders without images, labels files naming missing images.
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createDataset } from '../../src/engine/data/dataset';
import { encodeShard } from '../../src/engine/data/shard';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadDataArg } from '../../src/platform/node/data';
import { importImages } from '../../src/platform/node/imageImport';
import { loadModel, readArtifacts, saveModel } from '../../src/platform/node/modelFiles';
import { readNpz } from '../../src/platform/node/npz';
import { checkOutFile, prepareOutDir, readRegularFile, removeCreated, StagedOutput } from '../../src/platform/node/safeFs';
import { installEagerInflate } from '../helpers/eagerInflate';
import { hugePng, inflatingZip, lyingZip, rleBmp, truncatedPng } from '../helpers/hostile';
import { pngBytes, writePng } from '../helpers/images';
import { writeZip } from '../../src/engine/io/zipWriter';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-hostile-'));
const fifo = path.join(tmp, 'fifo');
const modelDir = path.join(tmp, 'model');

beforeAll(async () => {
  await initNodeBackend('cpu');
  execFileSync('mkfifo', [fifo]);
  const m = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
  await saveModel(m, modelDir);
  m.dispose();
});

/** Runs `f` and says how long it took (a hang would time the test out instead). */
async function quickly<T>(f: () => Promise<T> | T): Promise<{ error: Error | undefined; ms: number }> {
  const t0 = performance.now();
  let error: Error | undefined;
  try {
    await f();
  } catch (e) {
    error = e as Error;
  }
  return { error, ms: performance.now() - t0 };
}

describe('reads take regular files only', () => {
  it('refuses a FIFO, a device and a folder at once, and caps the size', async () => {
    expect(() => readRegularFile(fifo, 100)).toThrow(/fifo is a FIFO \(named pipe\), not a file$/);
    expect(() => readRegularFile('/dev/zero', 100)).toThrow(/^\/dev\/zero is a device, not a file$/);
    expect(() => readRegularFile(tmp, 100)).toThrow(/is a folder, not a file$/);
    const f = path.join(tmp, 'big');
    fs.writeFileSync(f, new Uint8Array(3 * 2 ** 20));
    expect(() => readRegularFile(f, 2 ** 20)).toThrow(/big is 3 MiB, more than the 1 MiB allowed/);
    expect(readRegularFile(f, 4 * 2 ** 20).length).toBe(3 * 2 ** 20);
  });

  it('a FIFO as --model, as --data and as a weight path in model.json; /dev/zero as --data', async () => {
    const r1 = await quickly(() => loadModel(fifo));
    expect(r1.error?.message).toMatch(/is not a file or a folder \(a FIFO or a device\?\)/);
    const r2 = await quickly(() => loadDataArg(fifo, { height: 8, width: 8 }));
    expect(r2.error?.message).toMatch(/is not a file or a folder \(a FIFO or a device\?\)/);
    const r5 = await quickly(() => readNpz(fifo));
    expect(r5.error?.message).toMatch(/fifo is a FIFO \(named pipe\), not a file$/);
    const r3 = await quickly(() => loadDataArg('/dev/zero', { height: 8, width: 8 }));
    expect(r3.error?.message).toMatch(/^\/dev\/zero is not a file or a folder/);
    const bad = path.join(tmp, 'fifo-model');
    fs.cpSync(modelDir, bad, { recursive: true });
    fs.rmSync(path.join(bad, 'weights.bin'));
    execFileSync('mkfifo', [path.join(bad, 'weights.bin')]);
    const r4 = await quickly(() => readArtifacts(path.join(bad, 'model.json')));
    expect(r4.error?.message).toMatch(/weight file weights\.bin \(named in .*model\.json\) is a FIFO \(named pipe\), not a file/);
    for (const r of [r1, r2, r3, r4, r5]) expect(r.ms).toBeLessThan(5000);
  });

  it('model.json naming a folder, or a path outside its folder, as a weight file', () => {
    const bad = path.join(tmp, 'dir-model');
    fs.cpSync(modelDir, bad, { recursive: true });
    const json = JSON.parse(fs.readFileSync(path.join(bad, 'model.json'), 'utf8'));
    fs.mkdirSync(path.join(bad, 'sub'));
    json.weightsManifest[0].paths = ['sub'];
    fs.writeFileSync(path.join(bad, 'model.json'), JSON.stringify(json));
    expect(() => readArtifacts(path.join(bad, 'model.json'))).toThrow(/weight file sub \(named in .*\) is a folder, not a file/);
    json.weightsManifest[0].paths = ['../model/weights.bin'];
    fs.writeFileSync(path.join(bad, 'model.json'), JSON.stringify(json));
    expect(() => readArtifacts(path.join(bad, 'model.json'))).toThrow(/names the weight file "\.\.\/model\/weights\.bin" outside its folder/);
  });

  it('a .zip whose images would unpack to more than 2 GiB, before inflating any', async () => {
    const f = path.join(tmp, 'inflating.zip');
    fs.writeFileSync(f, inflatingZip(40, 60 * 2 ** 20));
    await expect(importImages(f, { height: 8, width: 8 })).rejects.toThrow(/inflating\.zip: its images unpack to 2\.3 GiB, more than the 2 GiB one import may hold$/);
  });

  it('a .zip entry that inflates past its declared size, stopped there whatever it inflates to (Chromium-like inflater)', async () => {
    const eager = installEagerInflate();
    try {
      for (const inflates of [60 * 2 ** 20, 6 * 2 ** 30]) {
        const f = path.join(tmp, 'lying.zip');
        fs.writeFileSync(f, lyingZip([{ name: 'cat/0.png', declared: 1000, inflates }]));
        const before = eager.produced();
        await expect(importImages(f, { height: 8, width: 8 })).rejects.toThrow(
          /lying\.zip: zip entry cat\/0\.png inflates past its declared size of 1,000 bytes: inflating stopped there \(a zip bomb, or a damaged archive\)$/,
        );
        expect(eager.produced() - before).toBeLessThan(2 * 2 ** 20);
      }
    } finally {
      eager.restore();
    }
  });

  it('a 1 KB RLE BMP declaring 16000x16000 pixels, named .png, refused from its header', async () => {
    const d = path.join(tmp, 'bmp');
    fs.mkdirSync(path.join(d, 'cat'), { recursive: true });
    fs.writeFileSync(path.join(d, 'cat', 'big.png'), rleBmp(16000, 16000));
    await expect(importImages(d, { height: 8, width: 8 })).rejects.toThrow(/^image cat\/big\.png is 16000x16000 pixels; at most 16,777,216 pixels \(4096x4096\) are read/);
  });

  it('a labels.csv whose label is a formula with spaces, refused whole (not cut to its last word)', async () => {
    const d = path.join(tmp, 'formula');
    fs.mkdirSync(d, { recursive: true });
    writePng(path.join(d, 'img.png'), 8, 1);
    fs.writeFileSync(path.join(d, 'labels.csv'), "img.png,=cmd|' /C calc'!A0\n");
    await expect(importImages(d, { height: 8, width: 8, numClasses: 10 })).rejects.toThrow(
      /^labels file, line 1: the class "=cmd\|' \/C calc'!A0" is not a class name \(it looks like a spreadsheet formula\)/,
    );
  });

  it('a .zip with ".." entries: said to be refused as unsafe paths, not skipped as hidden', async () => {
    const f = path.join(tmp, 'slip.zip');
    fs.writeFileSync(f, writeZip([{ name: 'cat/0.png', data: pngBytes(8, 1) }, { name: 'cat/../../../x.png', data: pngBytes(8, 2) }]));
    const notes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => notes.push(String(s)) > 0);
    try {
      expect((await importImages(f, { height: 8, width: 8 })).n).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(notes.join('')).toMatch(/slip\.zip: refused 1 file\(s\) with unsafe paths \("\.\." or absolute, as in a zip made to write outside its folder\), e\.g\. "cat\/\.\.\/\.\.\/\.\.\/x\.png"/);
  });

  it('an empty shard as --data', async () => {
    const f = path.join(tmp, 'empty.mcld');
    fs.writeFileSync(f, encodeShard(createDataset({ images: new Uint8Array(0), labels: new Int32Array(0), height: 8, width: 8, channels: 3, classNames: ['a'] })));
    await expect(loadDataArg(f)).rejects.toThrow(/empty\.mcld: the shard holds no images$/);
  });
});

describe('outputs', () => {
  it('--out on /proc or on an existing file is refused at once; a new folder is created level by level and can be removed', () => {
    const t0 = performance.now();
    expect(() => prepareOutDir('/proc/x')).toThrow(/^cannot create --out \/proc\/x: ENOENT at \/proc\/x$/);
    expect(performance.now() - t0).toBeLessThan(2000);
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    expect(() => prepareOutDir(file)).toThrow(/a-file exists and is not a folder/);
    expect(() => prepareOutDir(path.join(file, 'sub'))).toThrow(/is not a folder/);
    expect(() => checkOutFile(tmp)).toThrow(/is a folder; give a file name ending in \.pth or \.safetensors/);
    const created = prepareOutDir(path.join(tmp, 'n1', 'n2'));
    expect(created.map((p) => path.basename(p))).toEqual(['n1', 'n2']);
    removeCreated(created);
    expect(fs.existsSync(path.join(tmp, 'n1'))).toBe(false);
  });

  it('a symlink planted at an output name is replaced, its target untouched; discarded outputs leave nothing', () => {
    const dir = path.join(tmp, 'out-link');
    fs.mkdirSync(dir);
    const victim = path.join(tmp, 'victim.txt');
    fs.writeFileSync(victim, 'keep me');
    fs.symlinkSync(victim, path.join(dir, 'report.json'));
    const out = new StagedOutput(dir);
    out.write('report.json', '{"ok":true}');
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    out.commit();
    expect(fs.lstatSync(path.join(dir, 'report.json')).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')).toBe('{"ok":true}');
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    const failed = new StagedOutput(dir);
    failed.write('model.json', '{}');
    failed.discard();
    expect(fs.readdirSync(dir)).toEqual(['report.json']);
  });

  it('never saves non-finite weights', async () => {
    const m = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 2);
    const w = m.getLayer('fc').getWeights();
    const nan = tf.fill(w[1].shape, NaN);
    m.getLayer('fc').setWeights([w[0], nan]);
    nan.dispose();
    const dir = path.join(tmp, 'nan-model');
    await expect(saveModel(m, dir)).rejects.toThrow(/^refusing to save: weight fc\/bias(_\d+)? holds NaN or infinite values \(the run diverged\); nothing was written$/);
    m.dispose();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('image folders', () => {
  it('count empty class folders in sorted order; refuse huge and truncated PNGs; report files the labels list but lack', async () => {
    const root = path.join(tmp, 'imgs');
    for (const c of ['ant', 'bee']) fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let k = 0; k < 2; k++) writePng(path.join(root, 'dog', `${k}.png`), 8, k);
    const err = process.stderr.write;
    process.stderr.write = () => true;
    try {
      const ds = await importImages(root, { height: 8, width: 8, numClasses: 3 });
      expect(ds.classNames).toEqual(['ant', 'bee', 'dog']);
      expect([...ds.labels]).toEqual([2, 2]);

      fs.writeFileSync(path.join(root, 'dog', 'big.png'), hugePng(16000, 16000));
      await expect(importImages(root, { height: 8, width: 8, numClasses: 3 })).rejects.toThrow(/image dog\/big\.png is 16000x16000 pixels/);
      fs.writeFileSync(path.join(root, 'dog', 'big.png'), truncatedPng());
      await expect(importImages(root, { height: 8, width: 8, numClasses: 3 })).rejects.toThrow(/image dog\/big\.png is truncated/);
    } finally {
      process.stderr.write = err;
    }

    const flat = path.join(tmp, 'flat');
    writePng(path.join(flat, 'a.png'), 8, 1);
    fs.writeFileSync(path.join(flat, 'labels.csv'), 'a.png,cat\nmissing.png,dog\n');
    const notes: string[] = [];
    process.stderr.write = (s: string | Uint8Array) => (notes.push(String(s)), true);
    try {
      await importImages(flat, { height: 8, width: 8, classNames: ['cat', 'dog'], numClasses: 2 });
    } finally {
      process.stderr.write = err;
    }
    expect(notes.join('')).toMatch(/1 image\(s\) listed in the labels file are missing, e\.g\. "missing\.png" \(line 2\)/);
  });
});
