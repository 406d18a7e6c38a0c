/**
 * Hostile inputs at the reader level (the page and the CLI share these readers): each kind is refused with one
 * clear line, before memory is spent on it, and never with a JavaScript internal ("Maximum call stack size
 * exceeded", "shape.reduce is not a function", ...). The files come from test/helpers/hostile.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { checkImageHeader } from '../../../src/engine/io/imageHeader';
import { unpickle } from '../../../src/engine/io/pickle';
import { readSafetensors } from '../../../src/engine/io/safetensors';
import { MAX_TENSOR_ELEMENTS, readTorchCheckpoint } from '../../../src/engine/io/torchCheckpoint';
import { stateDictFromModel } from '../../../src/engine/model/stateDictExport';
import { modelFromStateDict } from '../../../src/engine/model/stateDictLoad';
import { modelFromFiles } from '../../../src/engine/model/fromFiles';
import { artifactsFromFiles } from '../../../src/engine/model/io';
import type { StateDict } from '../../../src/engine/model/torchWeights';
import { buildWrn, WRN_16_1 } from '../../../src/engine/model/wrn';
import { CIFAR10_MEAN, CIFAR10_STD } from '../../../src/engine/data/cifar10';
import { initNodeBackend } from '../../../src/platform/node/backend';
import {
  bigWebp, deepDictPickle, deepListPickle, hugeAppendsPickle, hugePng, overhangingGif, popenPth, pthWithViews, rleBmp, safetensorsWithHeader,
  safetensorsWithMetadata, truncatedPng, zipCheckpoint,
} from '../../helpers/hostile';
import { pngBytes } from '../../helpers/images';

const NORM = { mean: [...CIFAR10_MEAN], std: [...CIFAR10_STD] };

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('.pth memory amplification is refused before allocation', () => {
  it('a 500,000,000-element stride-0 view over a 1-element storage', async () => {
    const file = pthWithViews([{ name: 'w', size: [500_000_000], stride: [0] }]);
    expect(file.length).toBeLessThan(2048);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/^tensor "w" declares shape \[500000000\] .* at most 134,217,728 per tensor are read$/);
  });

  it('a broadcast view under the per-tensor cap but far beyond its storage', async () => {
    await expect(readTorchCheckpoint(pthWithViews([{ name: 'w', size: [4_000_000], stride: [0] }]))).rejects.toThrow(
      /^tensor "w" \(\[4000000\], strides \[0\]\) has 4,000,000 elements over a storage of 1: a broadcast view larger than a state_dict carries/,
    );
  });

  it('many tensors that together pass the total cap', async () => {
    const views = [0, 1, 2].map((i) => ({ name: `w${i}`, size: [MAX_TENSOR_ELEMENTS], stride: [0] }));
    await expect(readTorchCheckpoint(pthWithViews(views))).rejects.toThrow(/more than 268,435,456 elements in all/);
  });

  it('a small broadcast view (as an expanded buffer) still loads', async () => {
    const ck = await readTorchCheckpoint(pthWithViews([{ name: 'w', size: [3, 2], stride: [0, 0] }]));
    expect(ck.stateDict.get('w')!.shape).toEqual([3, 2]);
  });
});

describe('pickles that used to overflow the call stack', () => {
  it.each([
    ['a list nested 100,000 deep', deepListPickle(100_000)],
    ['a dict nested 100,000 deep', deepDictPickle(100_000)],
    ['one APPENDS of 200,000 items', hugeAppendsPickle(200_000)],
  ])('%s: unpickled, then refused as holding no tensors', async (_name, pkl) => {
    expect(() => unpickle(pkl, { allowed: {} })).not.toThrow();
    await expect(readTorchCheckpoint(zipCheckpoint(pkl))).rejects.toThrow(/^the checkpoint holds no tensors \(it is a (list of \d+|dict with keys 0)\)$/);
  });
});

describe('a state_dict holding subprocess.Popen', () => {
  it('is named a disallowed global, not "a whole pickled model"', async () => {
    const err = await readTorchCheckpoint(popenPth()).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^refusing to load: the file references the disallowed Python global "commands\.Popen"/);
    expect((err as Error).message).not.toMatch(/whole pickled model/);
  });
});

describe('safetensors with malformed header fields', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  it.each([
    ['a string shape', { a: { ...ok, shape: '2' } }, /^safetensors: tensor "a" has shape "2", expected a list of non-negative integers$/],
    ['a null entry', { a: null }, /^safetensors: the entry of tensor "a" is null, expected \{dtype, shape, data_offsets\}$/],
    ['string offsets', { a: { ...ok, data_offsets: ['0', '8'] } }, /^safetensors: tensor "a" has data_offsets \["0","8"\], expected \[begin, end\] in bytes$/],
    ['overlapping offsets', { a: ok, b: { ...ok, data_offsets: [4, 12] } }, /^safetensors: tensors "a" and "b" overlap \(bytes \[0, 8\) and \[4, 12\)\); the file is damaged$/],
    ['non-string metadata', { a: ok, __metadata__: { mean: [0.5] } }, /^safetensors: __metadata__ field "mean" is \[0.5\], expected a string$/],
  ])('%s', (_name, header, message) => {
    expect(() => readSafetensors(safetensorsWithHeader(header))).toThrow(message);
  });

  it.each([['"abc"'], ['["a","b","c"]'], ['not json']])('string mean metadata %s is named, not passed to the model', async (mean) => {
    await expect(modelFromFiles([{ name: 'm.safetensors', bytes: safetensorsWithMetadata({ mean }) }])).rejects.toThrow(
      /^m\.safetensors: its metadata "mean" is .*, expected a list of numbers such as \[0\.5, 0\.5, 0\.5\]$/,
    );
  });
});

describe('model.json malformed', () => {
  const topology = { class_name: 'Model', config: {} };
  const json = (weightsManifest: unknown) => JSON.stringify({ modelTopology: topology, weightsManifest });
  const none = () => undefined;
  it.each([
    ['a group without weights', [{ paths: ['w.bin'] }], /^model\.json: weightsManifest group 0 is malformed: expected \{"paths": \[file names\], "weights": \[specs\]\}$/],
    ['a string shape', [{ paths: [], weights: [{ name: 'k', shape: '3', dtype: 'float32' }] }], /^model\.json: weight "k" has shape "3", expected a list of non-negative integers$/],
    ['a path upwards', [{ paths: ['../../etc/passwd'], weights: [] }], /^model\.json names the weight file "\.\.\/\.\.\/etc\/passwd" outside its folder/],
    ['an absolute path', [{ paths: ['/etc/passwd'], weights: [] }], /outside its folder/],
  ])('%s', (_name, manifest, message) => {
    expect(() => artifactsFromFiles(json(manifest), none)).toThrow(message);
  });

  it('never asks for a path outside the folder', () => {
    const asked: string[] = [];
    expect(() => artifactsFromFiles(json([{ paths: ['a.bin', '../b.bin'], weights: [] }]), (p) => (asked.push(p), new Uint8Array(0)))).toThrow(/outside its folder/);
    expect(asked).toEqual(['a.bin']);
  });
});

describe('state_dicts checked before a model is built', () => {
  let sd: StateDict;
  beforeAll(async () => {
    const m = buildWrn({ ...WRN_16_1, depth: 10 }, 1);
    sd = await stateDictFromModel(m);
    m.dispose();
  });
  const edit = (key: string, t: { shape: number[]; data: Float32Array }): StateDict => new Map([...sd, [key, { dtype: 'F32', ...t }]]);

  it('a negative running_var', () => {
    const v = sd.get('bn1.running_var')!;
    expect(() => modelFromStateDict(edit('bn1.running_var', { shape: v.shape, data: new Float32Array(v.data.length).fill(-1) }), NORM)).toThrow(
      /bn1\.running_var holds negative values, but a variance cannot be negative/,
    );
  });

  it('a transposed first convolution is a shape problem, not a mean/std one', () => {
    const w = sd.get('conv1.weight')!; // [16, 3, 3, 3]
    const t = tf.tidy(() => tf.transpose(tf.tensor(w.data as Float32Array, w.shape), [1, 0, 2, 3]));
    const err = (() => {
      try {
        modelFromStateDict(edit('conv1.weight', { shape: t.shape, data: t.dataSync() as Float32Array }), NORM);
      } catch (e) {
        return e as Error;
      }
    })();
    t.dispose();
    expect(err?.message).toMatch(/^conv1\.weight has shape \[3, 16, 3, 3\], expected \[out channels, 3 \(RGB; 1-4 image channels\), k, k\] \(is it transposed\?\)$/);
    expect(err?.message).not.toMatch(/mean|std/);
  });

  it('a small state_dict declaring 640 channels is refused without building a WRN-10-40', async () => {
    const huge: StateDict = new Map([
      ['conv1.weight', { dtype: 'F32', shape: [16, 3, 3, 3], data: new Float32Array(432) }],
      ['block1.layer.0.conv1.weight', { dtype: 'F32', shape: [640, 16, 3, 3], data: new Float32Array(640 * 16 * 9) }],
      ['fc.weight', { dtype: 'F32', shape: [10, 2560], data: new Float32Array(25600) }],
    ]);
    // Building the model would create its weight variables (about 859 MB for a WRN-10-40): none may be made.
    const made = vi.spyOn(tf.engine(), 'makeVariable');
    try {
      expect(() => modelFromStateDict(huge, NORM)).toThrow(/^state_dict does not fit a WRN-10-40, .*missing keys: /);
      expect(made).not.toHaveBeenCalled();
    } finally {
      made.mockRestore();
    }
  });
});

describe('images checked before decoding', () => {
  it('a PNG declaring 16000x16000 pixels', () => {
    const b = hugePng(16000, 16000);
    expect(b.length).toBeLessThan(1024);
    expect(() => checkImageHeader(b, 'big.png')).toThrow(/^image big\.png is 16000x16000 pixels; at most 16,777,216 pixels \(4096x4096\) are read/);
  });
  it('a truncated PNG', () => {
    expect(() => checkImageHeader(truncatedPng(), 'cut.png')).toThrow(/^image cut\.png is truncated: the PNG ends before its end marker \(IEND\)$/);
  });
  it('a 1 KB run-length-encoded BMP declaring 16000x16000 pixels (and the same bytes named .png)', () => {
    const b = rleBmp(16000, 16000);
    expect(b.length).toBeLessThan(1024);
    for (const name of ['big.bmp', 'big.png']) {
      expect(() => checkImageHeader(b, name)).toThrow(new RegExp(`^image ${name.replace('.', '\\.')} is 16000x16000 pixels; at most 16,777,216 pixels \\(4096x4096\\) are read`));
    }
    expect(() => checkImageHeader(rleBmp(32, 32), 'ok.bmp')).not.toThrow();
  });
  it('a GIF whose frame overhangs its 1x1 screen, and a WebP, each declaring 16000x16000 pixels', () => {
    expect(() => checkImageHeader(overhangingGif(16000, 16000), 'big.gif')).toThrow(/^image big\.gif is 16000x16000 pixels/);
    expect(() => checkImageHeader(overhangingGif(32, 32), 'ok.gif')).not.toThrow();
    expect(() => checkImageHeader(bigWebp(16000, 16000), 'big.webp')).toThrow(/^image big\.webp is 16000x16000 pixels/);
    expect(() => checkImageHeader(bigWebp(32, 32), 'ok.webp')).not.toThrow();
  });
  it('a format whose header is not read (an ICO) and an empty file, refused rather than decoded unchecked', () => {
    const ico = Uint8Array.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 32, 0]);
    expect(() => checkImageHeader(ico, 'x.png')).toThrow(/^image x\.png is not a PNG, JPEG, GIF, BMP or WebP image, or its header is cut short \(it starts with the bytes 00 00 01 00\)/);
    expect(() => checkImageHeader(new Uint8Array(0), 'e.png')).toThrow(/the file is empty/);
  });
  it('a whole small PNG passes', () => {
    expect(() => checkImageHeader(pngBytes(8, 3), 'ok.png')).not.toThrow();
  });
});
