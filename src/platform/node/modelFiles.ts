/**
 * Reading and writing models on disk (Node): a TensorFlow.js LayersModel folder (model.json + weight shards) or a
 * PyTorch WRN state_dict in safetensors, plus the optional manifest.json the model zoo writes beside them.
 */
import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors } from '../../engine/io/safetensors';
import { artifactsFromFiles, modelFromArtifacts, modelToArtifacts } from '../../engine/model/io';
import { wrnFromStateDict } from '../../engine/model/torchWeights';

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
  format: 'tfjs' | 'safetensors';
  source: string;
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
 * Loads a model from a folder (model.json, or a single *.safetensors WRN state_dict) or from a file path.
 * @throws Error saying what was expected when nothing loadable is found
 */
export async function loadModel(location: string): Promise<LoadedModel> {
  if (!fs.existsSync(location)) throw new Error(`model not found: ${location} does not exist`);
  const stat = fs.statSync(location);
  const dir = stat.isDirectory() ? location : path.dirname(location);
  const manifestFile = path.join(dir, 'manifest.json');
  const manifest = fs.existsSync(manifestFile) ? (readJson(manifestFile) as ModelManifest) : null;
  let file = location;
  if (stat.isDirectory()) {
    const entries = fs.readdirSync(location);
    const st = entries.filter((e) => e.endsWith('.safetensors'));
    if (entries.includes('model.json')) file = path.join(location, 'model.json');
    else if (st.length === 1) file = path.join(location, st[0]);
    else throw new Error(`no model in ${location}: expected model.json (TensorFlow.js LayersModel) or one .safetensors file (PyTorch WRN state_dict)`);
  }
  if (file.endsWith('.json')) {
    const model = await modelFromArtifacts(readArtifacts(file));
    return { model, manifest, format: 'tfjs', source: file };
  }
  if (file.endsWith('.safetensors')) {
    const { tensors, metadata } = readSafetensors(fs.readFileSync(file));
    const mean = metadata.mean ? (JSON.parse(metadata.mean) as number[]) : undefined;
    const std = metadata.std ? (JSON.parse(metadata.std) as number[]) : undefined;
    const { model } = wrnFromStateDict(tensors, mean, std);
    return { model, manifest, format: 'safetensors', source: file };
  }
  throw new Error(`unsupported model file ${file}: expected model.json or .safetensors`);
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
