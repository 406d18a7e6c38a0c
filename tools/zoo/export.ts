/**
 * Exports a trained zoo model (tools/zoo/runs/<name>/, written by train.py) to the app's format and measures it
 * with the TypeScript engine:
 *   models/<name>/model.json + weights.bin   TensorFlow.js LayersModel ([features, logits] outputs)
 *   models/<name>/trigger.png                a test image clean and triggered, side by side, enlarged
 *   models/<name>/manifest.json              attack, target, recipe, BA/ASR measured here on the full test set,
 *                                            and the share of test predictions that agree with PyTorch
 *   models/index.json                        the list of shipped models for the app
 *
 * Run: npm run zoo:export -- <name> [<name> ...]     (backend: wasm; MCLDEF_BACKEND=cpu to force the CPU one)
 */
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { ATTACK_INFO } from '../../src/engine/attacks/registry';
import { poisonTestSet, stampDataset } from '../../src/engine/attacks/poison';
import type { Dataset } from '../../src/engine/data/dataset';
import { encodeShard } from '../../src/engine/data/shard';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { evaluateBackdoor, predict } from '../../src/engine/metrics';
import { wrnFromStateDict } from '../../src/engine/model/torchWeights';
import { initNodeBackend } from '../../src/platform/node/backend';
import { loadCifar10 } from '../../src/platform/node/cifar';
import { attackFromName, defaultTrojanPatch } from '../../src/platform/node/data';
import { loadTrojanPatch } from '../../src/platform/node/npz';
import { saveModel } from '../../src/platform/node/modelFiles';
import { repoRoot } from '../../src/platform/node/paths';
import type { BackendName } from '../../src/platform/selectBackend';

const TITLES: Record<string, string> = {
  badnets: 'BadNets', trojan: 'Trojan', blend: 'Blend', sig: 'SIG', cl: 'Label-consistent (CL)', clean: 'Clean (no backdoor)',
};

/** Why a model's schedule departs from the paper's 50 epochs without augmentation, or undefined when it does not. */
function recipeNote(train: { epochs: number; device_name?: string; recipe: { augmentation: string } }): string | undefined {
  if (train.epochs >= 50 && train.recipe.augmentation === 'none') return undefined;
  const what = `${train.epochs} epochs${train.recipe.augmentation === 'none' ? '' : ' with crop+flip'} instead of the paper's 50 without augmentation`;
  return train.device_name && train.device_name !== 'cpu'
    ? `${what}: the recipe of the BadNets model (whose 50 epochs did not fit the CPU time), kept for the whole zoo`
    : `${what} (CPU time)`;
}

/** Writes the shared Trojan patch as raw float32 [3, 32, 32] (CHW, 0-255) into the model folder; returns its name. */
async function writeTrojanPatch(outDir: string): Promise<string> {
  const file = 'trojan-patch.f32';
  const patch = await loadTrojanPatch(defaultTrojanPatch());
  fs.writeFileSync(path.join(outDir, file), new Uint8Array(patch.buffer, patch.byteOffset, patch.byteLength));
  return file;
}

/** Writes a PNG strip: for `indices`, the clean image above its triggered copy, each enlarged `scale` times. */
function triggerPreview(clean: Dataset, triggered: Dataset, indices: number[], file: string, scale = 4): void {
  const { height: h, width: w } = clean;
  const png = new PNG({ width: indices.length * w * scale, height: 2 * h * scale });
  indices.forEach((idx, col) => {
    [clean, triggered].forEach((ds, row) => {
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          const src = ((idx * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * 3;
          const dst = (((row * h * scale + y) * png.width) + col * w * scale + x) * 4;
          png.data[dst] = ds.images[src];
          png.data[dst + 1] = ds.images[src + 1];
          png.data[dst + 2] = ds.images[src + 2];
          png.data[dst + 3] = 255;
        }
      }
    });
  });
  fs.writeFileSync(file, PNG.sync.write(png));
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

async function exportModel(name: string, test: Dataset): Promise<Record<string, unknown>> {
  const runDir = path.join(repoRoot, 'tools', 'zoo', 'runs', name);
  const train = JSON.parse(fs.readFileSync(path.join(runDir, 'train.json'), 'utf8'));
  const weightsFile = path.join(runDir, 'model.safetensors');
  const { tensors, metadata } = readSafetensors(fs.readFileSync(weightsFile));
  const mean = JSON.parse(metadata.mean) as number[];
  const std = JSON.parse(metadata.std) as number[];
  const { model, config } = wrnFromStateDict(tensors, mean, std);
  const outDir = path.join(repoRoot, 'models', name);
  await saveModel(model, outDir);

  const attackName: string = train.attack === 'clean' ? 'badnets' : train.attack;
  const attack = await attackFromName(attackName);
  const target: number = train.target;
  const t0 = performance.now();
  const r = await evaluateBackdoor(model, test, poisonTestSet(test, attack, target), target, { numClasses: config.numClasses });
  const evalSeconds = (performance.now() - t0) / 1000;

  // Agreement with PyTorch on identical pixels: both sides read this shard.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-export-'));
  const shard = path.join(tmp, 'test.mcld');
  fs.writeFileSync(shard, encodeShard(test));
  // PyTorch's predictions on the engine's pixels are shipped too: test/zoo checks the TF.js model against them.
  execFileSync('/usr/bin/python3', [path.join(repoRoot, 'tools', 'zoo', 'predict_shard.py'), weightsFile, shard, attackName, path.join(outDir, 'torch-predictions')], {
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '67108864' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const torchClean = fs.readFileSync(path.join(outDir, 'torch-predictions.clean.u8'));
  const torchTrig = fs.readFileSync(path.join(outDir, 'torch-predictions.triggered.u8'));
  const allTriggered = stampDataset(test, attack);
  const tsTrig = await predict(model, allTriggered);
  const agreeClean = agreement(r.cleanPred, torchClean);
  const agreeTrig = agreement(tsTrig, torchTrig);
  fs.rmSync(tmp, { recursive: true, force: true });

  const preview = [3, 1012, 2025, 3031, 4044, 6066, 7070, 8088, 9090].filter((i) => i < test.n);
  triggerPreview(test, allTriggered, preview, path.join(outDir, 'trigger.png'));
  model.dispose();

  const info = ATTACK_INFO[attackName as keyof typeof ATTACK_INFO];
  const patchFile = attackName === 'trojan' ? await writeTrojanPatch(outDir) : undefined;
  const manifest = {
    name,
    title: `WRN-16-1 · ${TITLES[train.attack] ?? train.attack}`,
    arch: `wrn-${config.depth}-${config.widen}`,
    inputShape: config.inputShape,
    normalization: { mean, std },
    classNames: test.classNames,
    backdoored: train.attack !== 'clean',
    attack: train.attack === 'clean'
      ? { name: 'none', asrTrigger: 'badnets', description: 'Trained on clean data; ASR is measured with the BadNets grid as a reference.' }
      : { name: attackName, title: info.title, kind: info.kind, trigger: info.trigger, description: info.description, params: train.attack_params },
    target,
    poisonRate: train.poison_rate,
    recipe: { ...train.recipe, epochs: train.epochs, seed: train.seed, paperEpochs: 50, note: recipeNote(train) },
    training: { wallTimeS: train.wall_time_s, device: train.device_name, torch: train.torch },
    metrics: {
      ba: r.ba,
      asr: r.asr,
      nClean: r.nClean,
      nAsr: r.nAsr,
      perClass: Object.fromEntries(test.classNames.map((c, i) => [c, r.perClass[i]])),
      measuredBy: `TypeScript engine (${tf.getBackend()}), full CIFAR-10 test set decoded with jpeg-js, ${evalSeconds.toFixed(1)} s`,
      torch: { ba: train.results.ba / 100, asr: train.results.asr / 100, decoder: 'PIL' },
      agreementWithTorch: { clean: agreeClean, triggered: agreeTrig, note: 'share of identical argmax predictions on the same decoded pixels' },
    },
    files: {
      model: 'model.json',
      weights: 'weights.bin',
      preview: 'trigger.png',
      previewIndices: preview,
      torchPredictions: 'torch-predictions.{clean,triggered}.u8: PyTorch argmax on the engine-decoded test set (triggered: every image stamped)',
      // The Trojan patch travels with its model, so the page can stamp it (the shared .npz is not shipped).
      patch: patchFile,
    },
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`${name}: BA ${(r.ba * 100).toFixed(2)}% ASR ${(r.asr * 100).toFixed(2)}% | agreement with PyTorch: clean ${(agreeClean * 100).toFixed(2)}%, triggered ${(agreeTrig * 100).toFixed(2)}%`);
  return { name, title: manifest.title, attack: manifest.attack.name, target, ba: r.ba, asr: r.asr, path: `models/${name}/` };
}

const names = process.argv.slice(2);
if (!names.length) {
  console.error('usage: npm run zoo:export -- <run name> [...]   (runs live in tools/zoo/runs/)');
  process.exit(2);
}
console.error(`backend: ${(await initNodeBackend(process.env.MCLDEF_BACKEND as BackendName | undefined)).backend}`);
const test = await loadCifar10('test');
const indexFile = path.join(repoRoot, 'models', 'index.json');
const index: { default: string; models: Array<Record<string, unknown>> } = fs.existsSync(indexFile)
  ? JSON.parse(fs.readFileSync(indexFile, 'utf8'))
  : { default: 'badnets', models: [] };
for (const name of names) {
  const entry = await exportModel(name, test);
  index.models = index.models.filter((m) => m.name !== name).concat(entry);
}
const order = ['badnets', 'trojan', 'blend', 'sig', 'cl', 'clean'];
index.models.sort((a, b) => order.indexOf(String(a.name)) - order.indexOf(String(b.name)));
fs.writeFileSync(indexFile, JSON.stringify(index, null, 2) + '\n');
