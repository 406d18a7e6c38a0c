/**
 * Reading and writing models on disk (Node): a TensorFlow.js LayersModel folder (model.json + weight shards) or a
 * PyTorch WRN state_dict in safetensors, plus the optional manifest.json the model zoo writes beside them.
 */
import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensors } from '../../engine/io/safetensors';
import { writeTorchCheckpoint } from '../../engine/io/torchCheckpoint';
import { architectureOf, stateDictFromModel } from '../../engine/model/architectures';
import { modelFromFiles, type NormalizationOptions } from '../../engine/model/fromFiles';

const WEIGHT_FILE = /\.(safetensors|pth|pt|ckpt|tar)$/i;
import { artifactsFromFiles, modelFromArtifacts, modelToArtifacts } from '../../engine/model/io';

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
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON (corrupt or truncated file?)`);
  }
}

/** Reads model.json and its weight shards (from the same folder) into artifacts. */
export function readArtifacts(modelJson: string): tf.io.ModelArtifacts {
  let text: string;
  try {
    text = fs.readFileSync(modelJson, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${modelJson}: ${(e as Error).message}`);
  }
  const dir = path.dirname(modelJson);
  return artifactsFromFiles(text, (p) => {
    const file = path.join(dir, p);
    return fs.existsSync(file) ? new Uint8Array(fs.readFileSync(file)) : undefined;
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
  const b = fs.readFileSync(file);
  const up = await modelFromFiles([{ name: path.basename(file), bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) }], opts);
  return { model: up.model, manifest, format: file.endsWith('.safetensors') ? 'safetensors' : 'pytorch', source: file, description: up.description };
}

/**
 * Writes a model as a PyTorch state_dict: a torch.save zip (.pth) or safetensors (with arch and normalization in
 * its metadata), chosen by the file name's ending.
 */
export async function saveStateDict(model: tf.LayersModel, file: string): Promise<void> {
  const sd = await stateDictFromModel(model);
  const info = architectureOf(model);
  let bytes: Uint8Array;
  if (/\.safetensors$/i.test(file)) {
    const meta: Record<string, string> = { format: 'pt', producer: 'mcldef-playground', arch: info?.arch ?? 'unknown' };
    if (info && 'mean' in info.config) {
      meta.mean = JSON.stringify(info.config.mean);
      meta.std = JSON.stringify(info.config.std);
    }
    bytes = writeSafetensors(sd, meta);
  } else bytes = writeTorchCheckpoint(sd);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, bytes);
}

/** Writes a model as model.json + weights.bin into `dir` (created if needed). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  const a = await modelToArtifacts(model);
  fs.mkdirSync(dir, { recursive: true });
  const weights = new Uint8Array(a.weightData as ArrayBuffer);
  fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
  const json = {
    format: 'layers-model',
    generatedBy: 'mcldef-playground',
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}
