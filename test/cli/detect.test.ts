/**
 * CLI test: `mcldef detect` (in-process) on the toy model with a planted backdoor (white top-left pixel -> class 1)
 * and on the same model without it; its report, trigger.json and usage errors.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args';
import { runPurify } from '../../src/cli/commands/purify';
import { readInvertedTrigger } from '../../src/cli/triggerFile';
import { detectHelp, runDetect } from '../../src/cli/commands/detect';
import { encodeShard } from '../../src/engine/data/shard';
import { initNodeBackend } from '../../src/platform/node/backend';
import { saveModel } from '../../src/platform/node/modelFiles';
import { toyData, toyModel } from '../engine/defense/toy';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-detect-'));
const plantedDir = path.join(tmp, 'planted');
const cleanModelDir = path.join(tmp, 'clean-model');
const shard = path.join(tmp, 'clean.mcld');

beforeAll(async () => {
  await initNodeBackend('cpu');
  for (const [dir, planted] of [[plantedDir, true], [cleanModelDir, false]] as const) {
    const m = toyModel({ planted });
    await saveModel(m, dir);
    m.dispose();
  }
  fs.writeFileSync(shard, encodeShard(toyData(32)));
});

/** Runs the command quietly; resolves to what it printed on stdout. */
async function quiet(argv: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
  try {
    await runDetect(argv);
  } finally {
    log.mockRestore();
    err.mockRestore();
    out.mockRestore();
  }
  return lines.join('\n');
}

const budget = ['--epochs', '40', '--batch', '16', '--seed', '3'];

describe('mcldef detect', () => {
  it('flags the planted class, writes report.json and a trigger purify can reuse, and leaks no tensors', async () => {
    const out = path.join(tmp, 'out');
    const before = tf.memory().numTensors;
    const printed = await quiet(['--model', plantedDir, '--clean', shard, ...budget, '--out', out]);
    expect(tf.memory().numTensors).toBe(before);
    expect(printed).toMatch(/verdict: backdoor suspected, target class 1 "class1"/);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ command: 'detect', flagged: 1, flaggedName: 'class1', threshold: 2, budget: { epochsPerClass: 40, batchSize: 16 } });
    expect(report.classes).toHaveLength(4);
    const l1 = report.classes.map((c: { maskL1: number }) => c.maskL1);
    expect(Math.min(...l1)).toBe(l1[1]);
    expect(report.classes[1].anomaly).toBeGreaterThan(2);
    expect(report.classes[1].attackRate).toBeGreaterThan(0.9);
    const trigger = readInvertedTrigger(path.join(out, 'trigger.json'));
    expect(trigger.target).toBe(1);
    expect(trigger.maskL1).toBeCloseTo(l1[1], 4);
  });

  it('is deterministic for a seed and matches purify --detect with the same budget and seed', async () => {
    const a = JSON.parse(await quiet(['--model', plantedDir, '--clean', shard, ...budget, '--json']));
    const b = JSON.parse(await quiet(['--model', plantedDir, '--clean', shard, ...budget, '--json']));
    const l1 = a.classes.map((c: { maskL1: number }) => c.maskL1);
    expect(b.classes.map((c: { maskL1: number }) => c.maskL1)).toEqual(l1);
    const out = path.join(tmp, 'purified');
    const quietPurify = async () => {
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        await runPurify(['--model', plantedDir, '--clean', shard, '--test', shard, '--out', out, '--detect', '--det-epochs', '40', '--batch', '16', '--seed', '3',
          '--method', 'ft', '--epochs', '0', '--attack', 'none']);
      } finally {
        log.mockRestore();
        err.mockRestore();
      }
    };
    await quietPurify();
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report.detection.l1).toEqual(l1);
    expect(report.detection.flagged).toBe(1);
  });

  it('flags nothing on the model without the backdoor', async () => {
    const report = JSON.parse(await quiet(['--model', cleanModelDir, '--clean', shard, ...budget, '--json']));
    expect(report.flagged).toBeNull();
    expect(report.classes[1].anomaly).toBeLessThan(2);
  });

  it('rejects bad options with usage errors', async () => {
    await expect(runDetect(['--clean', shard])).rejects.toThrow(UsageError);
    await expect(runDetect(['--model', plantedDir, '--clean', shard, '--epochs', '0'])).rejects.toThrow(/--epochs must be an integer/);
    await expect(runDetect(['--model', plantedDir, '--clean', shard, '--clean-share', '0'])).rejects.toThrow(/clean-share/);
    await expect(runDetect(['--model', plantedDir, '--clean', path.join(tmp, 'missing')])).rejects.toThrow(/data not found/);
    expect(detectHelp).toMatch(/^mcldef detect/);
  });
});
