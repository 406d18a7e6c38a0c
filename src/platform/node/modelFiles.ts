/**
 * Reading and writing models on disk (Node): a TensorFlow.js LayersModel folder (model.json + weight shards) or a
 * PyTorch WRN state_dict in safetensors, plus the optional manifest.json the model zoo writes beside them.
 */
import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensors } from '../../engine/io/safetensors';
import { writeTorchCheckpoint } from '../../engine/io/torchCheckpoint';
import { architectureOf } from '../../engine/model/introspect';
import { stateDictFromModel } from '../../engine/model/stateDictExport';
import { modelFromFiles, type NormalizationOptions } from '../../engine/model/fromFiles';
import { artifactsFromFiles, firstNonFiniteWeight, modelFromArtifacts, modelToArtifacts } from '../../engine/model/io';
import { prepareOutDir, READ_LIMITS, readRegularFile, readRegularText, StagedOutput } from './safeFs';

const WEIGHT_FILE = /\.(safetensors|pth|pt|ckpt|tar)$/i;

/** What the zoo records about a shipped model (all fields optional for user models). */
export interface ModelManifest {
  name?: string;
  arch?: string;
  classNames?: string[];
  attack?: { name: string; params?: Record<string, unknown>; description?: string };
  target?: number;
  [key: string]: unknown;
}

/** A loaded model and where it came from. */
export interface LoadedModel {
  model: tf.LayersModel;
  manifest: ModelManifest | null;
  format: 'tfjs' | 'safetensors' | 'pytorch';
  source: string;
  /** Detected architecture and checkpoint layout, for state_dict files. */
  description?: string;
}

function readJson(file: string): unknown {
  const text = readRegularText(file, READ_LIMITS.json);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON (corrupt or truncated file?)`);
  }
}

/** Reads model.json and its weight shards (from the same folder) into artifacts. */
export function readArtifacts(modelJson: string): tf.io.ModelArtifacts {
  const text = readRegularText(modelJson, READ_LIMITS.json);
  const dir = path.dirname(modelJson);
  return artifactsFromFiles(text, (p) => {
    // Weight paths stay inside the model's folder: no absolute paths, no "..".
    if (path.isAbsolute(p) || p.split(/[\\/]/).some((part) => part === '..')) {
      throw new Error(`${modelJson} names the weight file "${p}" outside its folder; weight paths must be plain names beside model.json`);
    }
    const file = path.join(dir, p);
    if (!fs.existsSync(file)) return undefined;
    return readRegularFile(file, READ_LIMITS.model, `weight file ${p} (named in ${modelJson})`);
  }, modelJson);
}

/**
 * Loads a model from a folder (model.json, or one .safetensors / .pth state_dict) or from a file path: a TF.js
 * model.json, a .safetensors state_dict, or a PyTorch checkpoint (.pth/.pt/.ckpt, zip or legacy format, read by
 * the engine's safe reader) of a WRN-d-k, ResNet-18 or PreAct-ResNet-18. `opts` sets the input normalization of
 * state_dicts (default: the file's metadata, else CIFAR-10's).
 * @throws Error saying what was expected when nothing loadable is found
 */
export async function loadModel(location: string, opts: NormalizationOptions = {}): Promise<LoadedModel> {
  if (!fs.existsSync(location)) throw new Error(`model not found: ${location} does not exist`);
  const stat = fs.statSync(location);
  if (!stat.isDirectory() && !stat.isFile()) throw new Error(`--model ${location} is not a file or a folder (a FIFO or a device?)`);
  const dir = stat.isDirectory() ? location : path.dirname(location);
  const manifestFile = path.join(dir, 'manifest.json');
  const manifest = fs.existsSync(manifestFile) ? (readJson(manifestFile) as ModelManifest) : null;
  let file = location;
  if (stat.isDirectory()) {
    const entries = fs.readdirSync(location);
    const weights = entries.filter((e) => WEIGHT_FILE.test(e));
    if (entries.includes('model.json')) file = path.join(location, 'model.json');
    else if (weights.length === 1) file = path.join(location, weights[0]);
    else throw new Error(`no model in ${location}: expected model.json (TensorFlow.js LayersModel) or one .safetensors / .pth state_dict${weights.length ? ` (found several: ${weights.join(', ')})` : ''}`);
  }
  if (file.endsWith('.json')) {
    const model = await modelFromArtifacts(readArtifacts(file));
    return { model, manifest, format: 'tfjs', source: file };
  }
  if (!WEIGHT_FILE.test(file)) throw new Error(`unsupported model file ${file}: expected model.json, a .safetensors file or a PyTorch checkpoint (.pth, .pt)`);
  const bytes = readRegularFile(file, READ_LIMITS.model);
  const up = await modelFromFiles([{ name: path.basename(file), bytes }], opts);
  return { model: up.model, manifest, format: file.endsWith('.safetensors') ? 'safetensors' : 'pytorch', source: file, description: up.description };
}

/** Refuses to save a model with NaN or infinite weights (a diverged run): nothing is written. */
async function checkFinite(model: tf.LayersModel): Promise<void> {
  const bad = await firstNonFiniteWeight(model);
  if (bad) throw new Error(`refusing to save: weight ${bad} holds NaN or infinite values (the run diverged); nothing was written`);
}

/** The bytes of a model as a PyTorch state_dict file: torch.save zip (.pth) or safetensors, by the name's ending. */
export async function stateDictBytes(model: tf.LayersModel, file: string): Promise<Uint8Array> {
  await checkFinite(model);
  const sd = await stateDictFromModel(model);
  const info = architectureOf(model);
  if (/\.safetensors$/i.test(file)) {
    const meta: Record<string, string> = { format: 'pt', producer: 'mcldef-playground', arch: info?.arch ?? 'unknown' };
    if (info && 'mean' in info.config) {
      meta.mean = JSON.stringify(info.config.mean);
      meta.std = JSON.stringify(info.config.std);
    }
    return writeSafetensors(sd, meta);
  }
  return writeTorchCheckpoint(sd);
}

/**
 * Writes a model as a PyTorch state_dict: a torch.save zip (.pth) or safetensors (with arch and normalization in
 * its metadata), chosen by the file name's ending. Written under a temporary name, then renamed.
 */
export async function saveStateDict(model: tf.LayersModel, file: string): Promise<void> {
  const bytes = await stateDictBytes(model, file);
  prepareOutDir(path.dirname(path.resolve(file)), 'the folder of'); // never mkdir's recursive form: it spins on /proc
  const out = new StagedOutput(path.dirname(path.resolve(file)));
  try {
    out.write(path.basename(file), bytes);
    out.commit();
  } finally {
    out.discard();
  }
}

/** Stages model.json + weights.bin of a model into `out` (committed by the caller); refuses non-finite weights. */
export async function stageModel(model: tf.LayersModel, out: StagedOutput): Promise<void> {
  await checkFinite(model);
  const a = await modelToArtifacts(model);
  const json = {
    format: 'layers-model',
    generatedBy: 'mcldef-playground',
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  out.write('weights.bin', new Uint8Array(a.weightData as ArrayBuffer));
  out.write('model.json', JSON.stringify(json));
}

/** Writes a model as model.json + weights.bin into `dir` (created if needed), both renamed into place at the end. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  prepareOutDir(dir, 'the model folder');
  const out = new StagedOutput(dir);
  try {
    await stageModel(model, out);
    out.commit();
  } finally {
    out.discard();
  }
}
