/**
 * The shipped models: each loads through the engine, agrees with PyTorch on >= 99.9% of the CIFAR-10 test
 * predictions (both sides read the same decoded pixels; the PyTorch answers ship as torch-predictions.*.u8), and
 * reproduces the BA and ASR its manifest claims on the full test set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stampDataset } from '../../src/engine/attacks/poison';
import type { Dataset } from '../../src/engine/data/dataset';
import { predict } from '../../src/engine/metrics';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadCifar10 } from '../../src/platform/node/cifar';
import { attackFromName } from '../../src/platform/node/data';
import { loadModel } from '../../src/platform/node/modelFiles';
import { sharedDir } from '../../src/platform/node/paths';
import { repoRoot } from '../helpers/fixtures';

const index = JSON.parse(fs.readFileSync(path.join(repoRoot, 'models', 'index.json'), 'utf8')) as { default: string; models: Array<{ name: string }> };
const haveData = fs.existsSync(path.join(sharedDir(), 'datasets', 'cifar10-jpg.tar.gz'));
if (!haveData) console.warn(`SKIPPING zoo tests: no CIFAR-10 at ${sharedDir()} (set MCLDEF_SHARED)`);

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

describe.skipIf(!haveData)('shipped models', () => {
  let test: Dataset;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    test = await loadCifar10('test');
  }, 300_000);

  it('has a default model', () => {
    expect(index.models.map((m) => m.name)).toContain(index.default);
  });

  it.each(index.models.map((m) => m.name))('%s agrees with PyTorch and reproduces its manifest', async (name) => {
    const dir = path.join(repoRoot, 'models', name);
    const { model, manifest } = await loadModel(dir);
    const m = manifest as { target: number; attack: { name: string; asrTrigger?: string }; metrics: { ba: number; asr: number } };
    const attack = await attackFromName(m.attack.name === 'none' ? m.attack.asrTrigger ?? 'badnets' : m.attack.name);
    const clean = await predict(model, test);
    const triggered = await predict(model, stampDataset(test, attack));
    const torchClean = fs.readFileSync(path.join(dir, 'torch-predictions.clean.u8'));
    const torchTrig = fs.readFileSync(path.join(dir, 'torch-predictions.triggered.u8'));
    const agreeClean = agreement(clean, torchClean);
    const agreeTrig = agreement(triggered, torchTrig);
    let hits = 0;
    let nonTarget = 0;
    let correct = 0;
    for (let i = 0; i < test.n; i++) {
      if (clean[i] === test.labels[i]) correct++;
      if (test.labels[i] !== m.target) {
        nonTarget++;
        if (triggered[i] === m.target) hits++;
      }
    }
    const ba = correct / test.n;
    const asr = hits / nonTarget;
    console.log(`[zoo ${name}] agreement with PyTorch: clean ${(agreeClean * 100).toFixed(2)}%, triggered ${(agreeTrig * 100).toFixed(2)}%; BA ${(ba * 100).toFixed(2)}% (manifest ${(m.metrics.ba * 100).toFixed(2)}%), ASR ${(asr * 100).toFixed(2)}% (manifest ${(m.metrics.asr * 100).toFixed(2)}%)`);
    expect(agreeClean).toBeGreaterThanOrEqual(0.999);
    expect(agreeTrig).toBeGreaterThanOrEqual(0.999);
    expect(Math.abs(ba - m.metrics.ba)).toBeLessThanOrEqual(0.0005);
    expect(Math.abs(asr - m.metrics.asr)).toBeLessThanOrEqual(0.0005);
    model.dispose();
  }, 600_000);
});
