/**
 * CLI test: `mcldef purify` (called in-process: src/cli/main.ts wires the command) on a tiny generated image
 * folder, a tiny WRN (depth 10, 8x8 inputs) and tiny settings; plus its usage errors.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args';
import { purifyHelp, runPurify } from '../../src/cli/commands/purify';
import { resolveConfig } from '../../src/engine/defense/config';
import { presetConfig } from '../../src/engine/defense/presets';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadModel, saveModel } from '../../src/platform/node/modelFiles';
import { writePng } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-purify-'));
const modelDir = path.join(tmp, 'model');
const cleanDir = path.join(tmp, 'clean');
const testDir = path.join(tmp, 'test');

beforeAll(async () => {
  await initNodeBackend('cpu');
  const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3, inputShape: [8, 8, 3] }, 1);
  await saveModel(model, modelDir);
  model.dispose();
  for (const [c, cls] of ['cat', 'dog', 'frog'].entries()) {
    for (let k = 0; k < 2; k++) writePng(path.join(cleanDir, cls, `${k}.png`), 8, c * 10 + k);
    for (let k = 0; k < 2; k++) writePng(path.join(testDir, cls, `${k}.png`), 8, 50 + c * 10 + k);
  }
});

describe('mcldef purify', () => {
  it('writes the purified model, report.json and trigger.json', async () => {
    const out = path.join(tmp, 'out');
    const before = tf.memory().numTensors;
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let printed: string[] = [];
    try {
      await runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', out, '--target', '1', '--attack', 'badnets',
        '--epochs', '1', '--inv-epochs', '1', '--batch', '4', '--eval-size', '0', '--seed', '3']);
      printed = log.mock.calls.map((c) => String(c[0]));
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(printed.find((l) => l.startsWith('per class'))).toMatch(/^per class cat [\d.]+% \([+-][\d.]+\), dog [\d.]+% \([+-][\d.]+\), frog /);
    expect(tf.memory().numTensors).toBe(before);
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ method: 'mcldef', target: 1, attack: 'badnets', attackTarget: 1, detection: null });
    expect(report.clean).toMatchObject({ images: 6, share: 1 });
    expect(report.config).toMatchObject({ epochs: 1, batchSize: 4, tau: 0.5, inversion: { epochs: 1, batchSize: 4, lambda: 0.01 } });
    for (const when of ['before', 'after']) {
      expect(report[when].ba).toBeGreaterThanOrEqual(0);
      expect(report[when].asr).toBeGreaterThanOrEqual(0);
      expect(report[when].nAsr).toBe(4);
      // Per-class accuracy by class name; the test set is balanced, so their mean is the BA.
      expect(Object.keys(report[when].perClass)).toEqual(['cat', 'dog', 'frog']);
      const acc = Object.values(report[when].perClass) as number[];
      expect(acc.reduce((a, b) => a + b, 0) / 3).toBeCloseTo(report[when].ba, 10);
    }
    expect(report.inversion).toMatchObject({ target: 1, steps: 2, epochs: 1 });
    expect(report.inversion.mask.l1).toBeGreaterThan(0);
    expect(report.timings.map((t: { stage: string }) => t.stage)).toEqual(['invert', 'evaluate', 'purify']);
    expect(report.timings[2].imagesPerSecond).toBeGreaterThan(0);
    expect(report.epochs).toHaveLength(1);
    const trigger = JSON.parse(fs.readFileSync(path.join(out, 'trigger.json'), 'utf8'));
    expect(trigger.mask).toHaveLength(64);
    expect(trigger.pattern).toHaveLength(192);
    const reloaded = await loadModel(out);
    expect(reloaded.manifest?.defense).toMatchObject({ method: 'mcldef', target: 1, seed: 3 });
    reloaded.model.dispose();

    // Stage 1 reused from that run's trigger.json, BatchNorm frozen, no augmentation.
    const again = path.join(tmp, 'again');
    const quiet = [vi.spyOn(console, 'log').mockImplementation(() => undefined), vi.spyOn(process.stderr, 'write').mockImplementation(() => true)];
    try {
      await runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', again, '--target', '1', '--attack', 'badnets', '--inverted', path.join(out, 'trigger.json'),
        '--bn', 'frozen', '--augment', 'off', '--epochs', '1', '--batch', '4', '--eval-size', '0', '--seed', '3']);
    } finally {
      quiet.forEach((q) => q.mockRestore());
    }
    const r2 = JSON.parse(fs.readFileSync(path.join(again, 'report.json'), 'utf8'));
    expect(r2.timings.map((t: { stage: string }) => t.stage)).toEqual(['evaluate', 'purify']);
    expect(r2).toMatchObject({ target: 1, config: { purifyBn: 'frozen', augment: { padding: 0, flip: false } }, inversion: { target: 1, steps: 2 } });
    expect(tf.memory().numTensors).toBe(before);
    await expect(runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', again, '--inverted', path.join(tmp, 'nope.json')])).rejects.toThrow(/--inverted .*nope\.json/);
    await expect(runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', again, '--target', '1', '--bn', 'sideways'])).rejects.toThrow(/--bn must be train or frozen/);
    await expect(runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', again, '--target', '1', '--augment', 'maybe'])).rejects.toThrow(/--augment must be on or off/);
  });

  it('runs the class demo preset: its settings, with options on top, and the whole test set before and after', async () => {
    const out = path.join(tmp, 'quick');
    const quiet = [vi.spyOn(console, 'log').mockImplementation(() => undefined), vi.spyOn(process.stderr, 'write').mockImplementation(() => true)];
    try {
      await runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', out, '--target', '1', '--attack', 'badnets', '--preset', 'quick', '--inv-epochs', '2', '--seed', '3']);
    } finally {
      quiet.forEach((q) => q.mockRestore());
    }
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report.preset).toBe('quick');
    const quick = resolveConfig(presetConfig('quick', { target: 1 }));
    expect(report.config).toMatchObject({ epochs: quick.epochs, batchSize: quick.batchSize, lr: quick.lr, evalSize: quick.evalSize, evalFinalSize: null });
    expect(report.config.inversion).toMatchObject({ epochs: 2, lr: quick.inversion.lr, batchSize: quick.inversion.batchSize, converge: quick.inversion.converge });
    expect(report.clean).toMatchObject({ images: 6 }); // fewer than the preset's 1,000: all of them
    expect(report.after.nAsr).toBe(4);
    await expect(runPurify(['--model', modelDir, '--clean', cleanDir, '--test', testDir, '--out', path.join(tmp, 'never'), '--target', '1', '--preset', 'fast'])).rejects.toThrow(/--preset must be quick or paper/);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('explains usage errors', async () => {
    const base = ['--model', modelDir, '--clean', cleanDir, '--test', testDir];
    await expect(runPurify(base)).rejects.toThrow(/missing required option --out/);
    await expect(runPurify([...base, '--out', tmp, '--method', 'magic'])).rejects.toThrow(UsageError);
    await expect(runPurify([...base, '--out', tmp])).rejects.toThrow(/needs the target class/);
    await expect(runPurify([...base, '--out', tmp, '--target', '1', '--detect'])).rejects.toThrow(/either --target or --detect/);
    await expect(runPurify([...base, '--out', tmp, '--target', '7'])).rejects.toThrow(/--target must be an integer in \[0, 2\]/);
    expect(purifyHelp).toMatch(/^mcldef purify --model DIR/);
  });
});
