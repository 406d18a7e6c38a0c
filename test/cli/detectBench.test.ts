/**
 * `npm run bench:detect` on a tiny zoo: the 8-class toy model with a planted backdoor (white top-left pixel -> class 1) and
 * the same model without it. Each model gets its report and a row in detect.md with the right verdict; a re-run
 * skips finished models, budgets sit side by side, and reports made from other clean data are never mixed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runDetectBench } from '../../src/cli/bench/detectBench';
import { encodeShard } from '../../src/engine/data/shard';
import { initNodeBackend } from '../../src/platform/node/backend';
import { saveModel } from '../../src/platform/node/modelFiles';
import { toyData, toyModel } from '../engine/defense/toy';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-detect-bench-'));
const zoo = path.join(tmp, 'models', 'index.json');
const clean = path.join(tmp, 'clean.mcld');
const out = path.join(tmp, 'bench');

beforeAll(async () => {
  await initNodeBackend('cpu');
  for (const [name, planted] of [['toy', true], ['ref', false]] as const) {
    const m = toyModel({ planted, classes: 8 });
    await saveModel(m, path.join(tmp, 'models', name));
    m.dispose();
  }
  const index = { default: 'toy', models: [{ name: 'toy', attack: 'badnets', target: 1, path: 'models/toy/' }, { name: 'ref', attack: 'clean', path: 'models/ref/' }] };
  fs.writeFileSync(zoo, JSON.stringify(index));
  fs.writeFileSync(clean, encodeShard(toyData(48, { classes: 8 })));
  fs.writeFileSync(path.join(tmp, 'other.mcld'), encodeShard(toyData(48, { classes: 8, seed: 9 })));
});

async function quietly(argv: string[]): Promise<void> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await runDetectBench(argv);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

const args = (...more: string[]) => ['--zoo', zoo, '--clean', clean, '--out', out, '--epochs', '40', '--lr', '0.05', '--seed', '3', ...more];

describe('bench:detect', () => {
  it('finds the planted target, calls the clean model clean, and resumes', async () => {
    await quietly(args());
    const toy = JSON.parse(fs.readFileSync(path.join(out, 'detect', 'e40-lr0.05-s3', 'toy.json'), 'utf8'));
    expect(toy.flagged).toBe(1);
    expect(toy.budget).toMatchObject({ epochsPerClass: 40, lr: 0.05 });
    const ref = JSON.parse(fs.readFileSync(path.join(out, 'detect', 'e40-lr0.05-s3', 'ref.json'), 'utf8'));
    expect(ref.flagged).toBeNull();
    const md = fs.readFileSync(path.join(out, 'detect.md'), 'utf8');
    expect(md).toMatch(/\| toy \| badnets \| 1 \| 1 class1 \([\d.]+\) \| target found \| 1 class1 \([\d.]+\) \| target found \|/);
    expect(md).toMatch(/\| ref \| clean \| - \| none \| clean: correct \| none \| clean: correct \|/);
    expect(md).toContain('Command: `npm run bench:detect -- --epochs 40 --lr 0.05 --seed 3`');

    // Resume: nothing left to do, so the reports stay byte for byte.
    const before = fs.readFileSync(path.join(out, 'detect', 'e40-lr0.05-s3', 'toy.json'), 'utf8');
    await quietly(args());
    expect(fs.readFileSync(path.join(out, 'detect', 'e40-lr0.05-s3', 'toy.json'), 'utf8')).toBe(before);

    // Another budget gets its own folder and its own section; the first stays.
    await quietly(['--zoo', zoo, '--clean', clean, '--out', out, '--epochs', '2', '--lr', '0.05', '--seed', '3', '--models', 'toy']);
    expect(fs.existsSync(path.join(out, 'detect', 'e2-lr0.05-s3', 'toy.json'))).toBe(true);
    const both = fs.readFileSync(path.join(out, 'detect.md'), 'utf8');
    expect(both.indexOf('## 2 inversion epochs per class')).toBeGreaterThan(0);
    expect(both.indexOf('## 40 inversion epochs per class')).toBeGreaterThan(both.indexOf('## 2 inversion epochs per class'));
    expect(both).toMatch(/## 40 inversion[^#]*\| toy \| badnets \| 1 \| 1 class1/);

    // Reports made from other clean data are never mixed in.
    await expect(quietly(['--zoo', zoo, '--clean', path.join(tmp, 'other.mcld'), '--out', out, '--epochs', '40', '--lr', '0.05', '--seed', '3'])).rejects.toThrow(/other clean data/);
    await expect(quietly(args('--models', 'nope'))).rejects.toThrow(/no model "nope"/);
  });
});
