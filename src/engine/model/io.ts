/**
 * Model serialization in the TensorFlow.js LayersModel format (model.json + binary weights), environment-free:
 * the browser and Node both go through `ModelArtifacts`, and only the file access differs (src/platform).
 */
import * as tf from '@tensorflow/tfjs';
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
  let json: { modelTopology?: object; weightsManifest?: tf.io.WeightsManifestConfig; format?: string };
  try {
    json = JSON.parse(modelJsonText);
  } catch {
    throw new Error(`${label} is not valid JSON (corrupt or truncated file?)`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${label} is not a TensorFlow.js LayersModel: expected "modelTopology" and "weightsManifest" fields`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
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
  return { modelTopology: json.modelTopology, weightSpecs: specs, weightData: data.buffer, format: json.format };
}

/** Rejects models whose weights hold NaN or infinite values. */
export async function assertFiniteWeights(model: tf.LayersModel): Promise<void> {
  for (const w of model.weights) {
    const v = w.read();
    const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(v))));
    const isBad = (await bad.data())[0] === 1;
    bad.dispose();
    if (isBad) throw new Error(`weight ${w.name} contains NaN or infinite values; the model file is damaged`);
  }
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
