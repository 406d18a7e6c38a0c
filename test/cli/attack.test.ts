/**
 * CLI test: `mcldef attack` (in-process) on a tiny WRN (depth 10, 8x8 inputs, 3 classes) and generated image
 * folders: the planted model, manifest.json (attack "mask" with trigger.png beside it), report.json, the trigger
 * travelling to `eval`; and a clear refusal of each bad input.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args';
import { runAttack } from '../../src/cli/commands/attack';
import { runEval } from '../../src/cli/commands/eval';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadModel, saveModel } from '../../src/platform/node/modelFiles';
import { repoRoot } from '../../src/platform/node/paths';
import { manifestTriggerFile } from '../../src/platform/node/triggerArg';
import { writePng } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-attack-'));
const modelDir = path.join(tmp, 'model');
const trainDir = path.join(tmp, 'train');
const testDir = path.join(tmp, 'test');
const noDogs = path.join(tmp, 'nodogs');

/** Writes an RGBA PNG of size x size; `paint` sets [r, g, b, a] per pixel. */
function writeTrigger(name: string, size: number, paint: (r: number, c: number) => number[]): string {
  const png = new PNG({ width: size, height: size });
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) png.data.set(paint(r, c), 4 * (r * size + c));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, PNG.sync.write(png));
  return file;
}
const corner = writeTrigger('corner.png', 8, (r, c) => (r >= 6 && c >= 6 ? [255, 255, 0, 255] : [0, 0, 0, 0]));

async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; printed: string[] }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const value = await f();
    return { value, printed: [...log.mock.calls, ...out.mock.calls].map((c) => String(c[0])) };
  } finally {
    log.mockRestore();
    err.mockRestore();
    out.mockRestore();
  }
}

const base = (out: string, over: string[] = []) => ['--model', modelDir, '--trigger', corner, '--target', '1', '--rate', '0.2', '--out', out,
  '--data', trainDir, '--test', testDir, '--steps', '3', '--batch', '8', '--eval-every', '2', '--eval-size', '0', '--seed', '2', ...over];

beforeAll(async () => {
  await initNodeBackend('cpu');
  const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
  await saveModel(model, modelDir);
  model.dispose();
  for (const [c, cls] of ['cat', 'dog', 'frog'].entries()) {
    for (let k = 0; k < 6; k++) writePng(path.join(trainDir, cls, `${k}.png`), 8, c * 10 + k);
    for (let k = 0; k < 2; k++) writePng(path.join(testDir, cls, `${k}.png`), 8, 50 + c * 10 + k);
    if (cls !== 'dog') for (let k = 0; k < 4; k++) writePng(path.join(noDogs, cls, `${k}.png`), 8, c * 10 + k);
  }
  fs.mkdirSync(path.join(noDogs, 'dog'), { recursive: true }); // an empty class folder keeps the label order
});

describe('mcldef attack', () => {
  it('writes the planted model, its manifest, trigger.png and report.json; eval then stamps the drawn trigger', async () => {
    const out = path.join(tmp, 'out');
    const before = tf.memory().numTensors;
    const { printed } = await quietly(() => runAttack(base(out)));
    expect(tf.memory().numTensors).toBe(before);
    expect(printed.find((l) => l.startsWith('poison'))).toMatch(/^poison\s+18 training images; every batch of 8 adds stamped, relabelled copies of 2 of its images \(rate 0.2; 6 copies over 3 steps\) at lr 0.01/);
    for (const f of ['model.json', 'weights.bin', 'manifest.json', 'report.json', 'trigger.png']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ backdoored: true, target: 1, poisonRate: 0.2, attack: { name: 'mask', file: 'trigger.png', kind: 'poison-label' } });
    expect(manifest.planted).toMatchObject({ steps: 3, batch: 8, seed: 2, trainImages: 18, poisoned: 6 });
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ command: 'attack', target: 1, rate: 0.2, train: { images: 18, poisoned: 6 }, test: { images: 6 } });
    expect(report.evals.map((e: { step: number }) => e.step)).toEqual([0, 2, 3]);
    expect(report.after.nAsr).toBe(4);
    expect(report.trigger.coverage).toBeCloseTo(4 / 64, 10);
    // The PNG that travels is the trigger itself.
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'trigger.png')));
    expect([png.width, png.height, png.data[4 * 63 + 3], png.data[3]]).toEqual([8, 8, 255, 0]);
    const reloaded = await loadModel(out);
    expect(manifestTriggerFile(out, reloaded.manifest)).toBe(path.join(out, 'trigger.png'));
    reloaded.model.dispose();
    const evalOut = await quietly(() => runEval(['--model', out, '--data', testDir, '--json']));
    const result = JSON.parse(evalOut.printed.join(''));
    expect(result).toMatchObject({ attack: 'mask', target: 1, nAsr: 4 });
    expect(result.asr).toBeCloseTo(report.after.asr, 10);
  });

  it('takes a shipped attack by name (no trigger.png), and the classic poisoned set with --mode replace', async () => {
    const out = path.join(tmp, 'named');
    const { printed } = await quietly(() => runAttack(base(out, ['--trigger', 'badnets', '--steps', '1', '--mode', 'replace'])));
    expect(printed.find((l) => l.startsWith('poison'))).toMatch(/^poison\s+4 of 18 training images stamped and relabelled \(rate 0.2\); 1 steps of 8/);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.attack).toMatchObject({ name: 'badnets' });
    expect(manifest.attack.file).toBeUndefined();
    expect(fs.existsSync(path.join(out, 'trigger.png'))).toBe(false);
  });

  it('refuses bad input with a clear message and writes nothing', async () => {
    const refuse = async (args: string[], message: RegExp, kind: new (message?: string) => Error = Error) => {
      const out = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
      const err = await quietly(() => runAttack(base(out, args))).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(kind);
      expect(err!.message).toMatch(message);
      expect(fs.existsSync(out)).toBe(false);
    };
    const empty = writeTrigger('empty.png', 8, () => [255, 0, 0, 0]);
    const full = writeTrigger('full.png', 8, () => [255, 0, 0, 255]);
    const big = writeTrigger('big.png', 16, (r, c) => (r < 2 && c < 2 ? [255, 255, 255, 255] : [0, 0, 0, 0]));
    await refuse(['--trigger', empty], /every pixel is transparent/);
    await refuse(['--trigger', full], /covers the whole 8x8 image at full opacity/);
    await refuse(['--trigger', big], /the PNG is 16x16 pixels but the model takes 8x8 images/);
    await refuse(['--trigger', path.join(tmp, 'nope.png')], /no such file, and not an attack name/);
    await refuse(['--rate', '0'], /--rate must be in \(0, 1\]/, UsageError);
    await refuse(['--rate', '1.5'], /--rate must be in \(0, 1\]/, UsageError);
    await refuse(['--target', '3'], /--target 3 is not a class of this 3-class model/, UsageError);
    await refuse(['--data', noDogs], /no images of the target class 1 \("dog"\)/);
    await refuse(['--data', path.join(repoRoot, 'public', 'data', 'clean-5pct.mcld')], /is the defender's clean data/, UsageError);
  });
});
