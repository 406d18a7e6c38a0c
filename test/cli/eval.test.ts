/**
 * CLI test: `mcldef eval` on a tiny generated image folder and a saved model, plus its error paths
 * (missing model, corrupt model.json, truncated weights, wrong image size, empty folder, bad flags).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWrn, WRN_16_1 } from '../../src/engine/model/wrn';
import { saveModel } from '../../src/platform/node/modelFiles';
import { repoRoot } from '../helpers/fixtures';
import { writePng } from '../helpers/images';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-cli-'));
const modelDir = path.join(tmp, 'model');
const dataDir = path.join(tmp, 'data');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'mcldef.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MCLDEF_BACKEND: 'cpu' },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const model = buildWrn({ ...WRN_16_1, depth: 10, numClasses: 3 }, 1);
  await saveModel(model, modelDir);
  model.dispose();
  for (const [c, cls] of ['cat', 'dog', 'frog'].entries()) for (let k = 0; k < 2; k++) writePng(path.join(dataDir, cls, `${k}.png`), 32, c * 10 + k);
});

describe('mcldef eval', () => {
  it('prints BA and ASR for a model and an image folder', () => {
    const r = cli('eval', '--model', modelDir, '--data', dataDir, '--attack', 'badnets', '--target', '1', '--json');
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.nClean).toBe(6);
    expect(res.nAsr).toBe(4);
    expect(res.ba).toBeGreaterThanOrEqual(0);
    expect(res.ba).toBeLessThanOrEqual(1);
    expect(res.asr).toBeGreaterThanOrEqual(0);
    expect(Object.keys(res.perClass)).toEqual(['cat', 'dog', 'frog']);
  });

  it('explains a missing model, a corrupt model.json and truncated weights', () => {
    expect(cli('eval', '--model', path.join(tmp, 'nope'), '--data', dataDir)).toMatchObject({ code: 1 });
    expect(cli('eval', '--model', path.join(tmp, 'nope'), '--data', dataDir).err).toMatch(/does not exist/);
    const bad = path.join(tmp, 'bad');
    fs.cpSync(modelDir, bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'model.json'), '{"modelTopology": ');
    expect(cli('eval', '--model', bad, '--data', dataDir).err).toMatch(/not valid JSON/);
    fs.cpSync(modelDir, bad, { recursive: true });
    const w = fs.readFileSync(path.join(bad, 'weights.bin'));
    fs.writeFileSync(path.join(bad, 'weights.bin'), w.subarray(0, 1000));
    const r = cli('eval', '--model', bad, '--data', dataDir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/truncated or mismatched/);
  });

  it('resizes images of another size to the model, refuses an empty folder and bad flags', () => {
    const odd = path.join(tmp, 'odd');
    writePng(path.join(odd, 'a', '0.png'), 16, 1);
    const r = cli('eval', '--model', modelDir, '--data', odd, '--target', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: 1 images/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    expect(cli('eval', '--model', modelDir, '--data', empty).code).toBe(1);
    const u = cli('eval', '--model', modelDir);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/missing required option --data/);
    expect(cli('eval', '--model', modelDir, '--data', dataDir, '--target', '1', '--attack', 'nonsense').err).toMatch(/unknown attack/);
  });
});
