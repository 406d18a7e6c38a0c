/**
 * Loading models in the browser (worker or main thread): the zoo by URL, or files the user picked. Pure fetch and
 * bytes, no DOM, so the same code runs in a worker.
 */
import * as tf from '@tensorflow/tfjs';
import { artifactsFromFiles, modelFromArtifacts } from '../engine/model/io';
import { type ModelFromFiles, modelFromFiles, type NormalizationOptions } from '../engine/model/fromFiles';

/** The manifest the zoo writes beside a model (see tools/zoo/export.ts); all fields optional for user models. */
export interface ZooManifest {
  name?: string;
  title?: string;
  arch?: string;
  classNames?: string[];
  backdoored?: boolean;
  attack?: { name: string; title?: string; description?: string; trigger?: string; asrTrigger?: string };
  target?: number;
  metrics?: { ba: number; asr: number; nClean: number };
  files?: { preview?: string; patch?: string };
}

async function fetchOk(url: string, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`could not download the ${what} from ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`could not download the ${what} from ${url}: HTTP ${res.status}`);
  return res;
}

/** Loads a LayersModel (model.json + shards next to it), its optional manifest and a Trojan model's patch from URLs. */
export async function loadModelFromUrl(modelUrl: string, manifestUrl?: string): Promise<{ model: tf.LayersModel; manifest: ZooManifest | null; trojanPatch: Float32Array | null }> {
  const text = await (await fetchOk(modelUrl, 'model')).text();
  const base = new URL('.', modelUrl);
  const parsed = JSON.parse(text) as { weightsManifest?: Array<{ paths: string[] }> };
  const shards = new Map<string, Uint8Array>();
  for (const group of parsed.weightsManifest ?? []) {
    for (const p of group.paths) shards.set(p, new Uint8Array(await (await fetchOk(new URL(p, base).href, `weight shard ${p}`)).arrayBuffer()));
  }
  const model = await modelFromArtifacts(artifactsFromFiles(text, (p) => shards.get(p), modelUrl));
  let manifest: ZooManifest | null = null;
  let trojanPatch: Float32Array | null = null;
  try {
    if (manifestUrl) manifest = (await (await fetchOk(manifestUrl, 'model manifest')).json()) as ZooManifest;
    // A Trojan model ships its additive patch (raw float32 [3, H, W], 0-255) so the page can stamp it.
    if (manifest?.attack?.name === 'trojan' && manifest.files?.patch) {
      const bytes = await (await fetchOk(new URL(manifest.files.patch, base).href, 'Trojan patch')).arrayBuffer();
      if (bytes.byteLength % 4 !== 0) throw new Error(`the Trojan patch ${manifest.files.patch} has ${bytes.byteLength} bytes, not whole float32 values`);
      trojanPatch = new Float32Array(bytes);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, manifest, trojanPatch };
}

/** Input normalization and class names the user set for an uploaded PyTorch state_dict (CIFAR-10 defaults). */
export interface UploadOptions extends NormalizationOptions {
  classNames?: string[];
}

/** A model loaded from files, with what the page says about it, and the manifest.json picked with it, if any. */
export interface UploadedModel extends ModelFromFiles {
  manifest: ZooManifest | null;
}

/**
 * Loads a model from picked files ({@link modelFromFiles}); a manifest.json among them is read too.
 * @throws Error saying what was expected when the files do not form a model
 */
export async function loadModelFromFiles(files: Array<{ name: string; bytes: ArrayBuffer }>, opts: UploadOptions = {}): Promise<UploadedModel> {
  const m = files.find((f) => f.name.split(/[\\/]/).pop() === 'manifest.json');
  let manifest: ZooManifest | null = null;
  if (m) {
    try {
      manifest = JSON.parse(new TextDecoder().decode(m.bytes)) as ZooManifest;
    } catch {
      throw new Error('manifest.json is not valid JSON');
    }
  }
  return { ...(await modelFromFiles(files, opts)), manifest };
}
