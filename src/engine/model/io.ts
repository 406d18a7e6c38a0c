/**
 * Model serialization in the TensorFlow.js LayersModel format (model.json + binary weights), environment-free:
 * the browser and Node both go through `ModelArtifacts`, and only the file access differs (src/platform).
 */
import * as tf from '@tensorflow/tfjs';
import './batchNorm'; // registers the engine's BatchNormalization for deserialization
import './conv'; // and its Conv2D
import './normalize'; // registers PixelNormalization for deserialization

/** Serializes a model into in-memory artifacts (topology + one concatenated weight buffer). */
export async function modelToArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('model.save produced no artifacts');
  return saved;
}

/** Total bytes of a weight manifest's entries (float32/int32 4 bytes, others per their dtype). */
export function manifestBytes(specs: tf.io.WeightsManifestEntry[]): number {
  const size: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
  return specs.reduce((s, w) => s + (size[w.quantization?.dtype ?? w.dtype] ?? 4) * w.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Gives a model the [features, logits] outputs the engine needs. Engine-built models already have them; a
 * single-output classifier whose last layer is Dense gets that layer's input as its feature output.
 * @throws Error saying what was expected when the model cannot provide features
 */
export function withFeatureOutputs(model: tf.LayersModel): tf.LayersModel {
  if (model.outputs.length === 2 && model.outputs[0].shape.length === 2) return model;
  if (model.outputs.length !== 1) {
    throw new Error(`expected a classifier with one output (logits) or two ([features, logits]); this model has ${model.outputs.length}`);
  }
  const last = model.layers[model.layers.length - 1];
  if (last.getClassName() !== 'Dense') {
    throw new Error(`expected the last layer to be Dense (the classifier head), found ${last.getClassName()}`);
  }
  const features = last.input as tf.SymbolicTensor;
  if (features.shape.length !== 2) throw new Error(`the classifier head's input has shape [${features.shape}], expected [batch, features]`);
  return tf.model({ inputs: model.inputs, outputs: [features, model.outputs[0]], name: model.name });
}

/**
 * Builds artifacts from a model.json text and its weight shards, looked up by the paths the manifest names
 * (browsers pass picked files by base name; Node reads them from the folder).
 * @throws Error saying which file is missing or how the sizes disagree
 */
export function artifactsFromFiles(modelJsonText: string, getShard: (path: string) => Uint8Array | undefined, label = 'model.json'): tf.io.ModelArtifacts {
  let json: { modelTopology?: unknown; weightsManifest?: unknown; format?: string };
  try {
    json = JSON.parse(modelJsonText);
  } catch {
    throw new Error(`${label} is not valid JSON (corrupt or truncated file?)`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${label} is not a TensorFlow.js LayersModel: expected "modelTopology" and "weightsManifest" fields`);
  }
  const specs = checkManifest(json.weightsManifest, label);
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest as tf.io.WeightsManifestConfig) {
    for (const p of group.paths) {
      // Paths are plain names (or sub-paths) beside model.json, never upwards or absolute.
      if (/^([\\/]|[A-Za-z]:)/.test(p) || p.split(/[\\/]/).includes('..')) throw new Error(`${label} names the weight file "${p}" outside its folder; weight paths must be plain names beside model.json`);
      const shard = getShard(p);
      if (!shard) throw new Error(`weight shard ${p} named in ${label} is missing`);
      parts.push(shard);
    }
  }
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const want = manifestBytes(specs);
  if (total !== want) throw new Error(`weight shards hold ${total} bytes but ${label} describes ${want} (truncated or mismatched files)`);
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.byteLength;
  }
  return { modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: data.buffer, format: json.format };
}

const WEIGHT_DTYPES = new Set(['float32', 'int32', 'bool', 'uint8', 'uint16', 'float16']);

/**
 * Checks the shape of a weightsManifest (groups of {paths: string[], weights: [{name, shape, dtype}]}) and returns
 * its weight specs in order.
 * @throws Error naming the first malformed group or entry
 */
function checkManifest(manifest: unknown[], label: string): tf.io.WeightsManifestEntry[] {
  const specs: tf.io.WeightsManifestEntry[] = [];
  manifest.forEach((group, g) => {
    const gr = group as { paths?: unknown; weights?: unknown } | null;
    if (!gr || typeof gr !== 'object' || !Array.isArray(gr.paths) || !Array.isArray(gr.weights)) {
      throw new Error(`${label}: weightsManifest group ${g} is malformed: expected {"paths": [file names], "weights": [specs]}`);
    }
    if (!gr.paths.every((p) => typeof p === 'string' && p.length > 0)) throw new Error(`${label}: weightsManifest group ${g} has paths that are not file names`);
    for (const w of gr.weights as unknown[]) {
      const spec = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown } | null;
      const what = spec && typeof spec === 'object' && typeof spec.name === 'string' ? `weight "${spec.name}"` : `a weight of group ${g}`;
      if (!spec || typeof spec !== 'object' || typeof spec.name !== 'string') throw new Error(`${label}: ${what} has no name`);
      if (!Array.isArray(spec.shape) || !spec.shape.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
        throw new Error(`${label}: ${what} has shape ${JSON.stringify(spec.shape)}, expected a list of non-negative integers`);
      }
      if (typeof spec.dtype !== 'string' || !WEIGHT_DTYPES.has(spec.dtype)) throw new Error(`${label}: ${what} has dtype ${JSON.stringify(spec.dtype)}, expected float32 or int32`);
      if (spec.quantization !== undefined) throw new Error(`${label}: ${what} is quantized; this reader takes float32 weights only`);
      specs.push(spec as tf.io.WeightsManifestEntry);
    }
  });
  return specs;
}

/** The name of the first weight holding NaN or infinite values, or null when all are finite. */
export async function firstNonFiniteWeight(model: tf.LayersModel): Promise<string | null> {
  for (const w of model.weights) {
    const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(w.read()))));
    const isBad = (await bad.data())[0] === 1;
    bad.dispose();
    if (isBad) return w.name;
  }
  return null;
}

/** Rejects models whose weights hold NaN or infinite values. */
export async function assertFiniteWeights(model: tf.LayersModel): Promise<void> {
  const bad = await firstNonFiniteWeight(model);
  if (bad) throw new Error(`weight ${bad} contains NaN or infinite values; the model file is damaged`);
}

/**
 * Loads a LayersModel from artifacts, checks its input is an image [H, W, C] and its weights are finite, and
 * returns it with [features, logits] outputs.
 */
export async function modelFromArtifacts(artifacts: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
  if (!artifacts.modelTopology) throw new Error('model.json has no modelTopology: expected a TensorFlow.js LayersModel (not a graph model)');
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new Error(`could not build the model from model.json: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const shape = model.inputs[0].shape;
    if (model.inputs.length !== 1 || shape.length !== 4) {
      throw new Error(`expected one image input [batch, height, width, channels]; the model takes ${model.inputs.map((i) => `[${i.shape}]`).join(', ')}`);
    }
    await assertFiniteWeights(model);
    const wrapped = withFeatureOutputs(model);
    return wrapped;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
