/**
 * Loading models in the browser (worker or main thread): the zoo by URL, or files the user picked. Pure fetch and
 * bytes, no DOM, so the same code runs in a worker.
 */
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../engine/io/safetensors';
import { artifactsFromFiles, modelFromArtifacts } from '../engine/model/io';
import { wrnFromStateDict } from '../engine/model/torchWeights';

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
  files?: { preview?: string };
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

/** Loads a LayersModel (model.json + shards next to it) and its optional manifest from URLs. */
export async function loadModelFromUrl(modelUrl: string, manifestUrl?: string): Promise<{ model: tf.LayersModel; manifest: ZooManifest | null }> {
  const text = await (await fetchOk(modelUrl, 'model')).text();
  const base = new URL('.', modelUrl);
  const parsed = JSON.parse(text) as { weightsManifest?: Array<{ paths: string[] }> };
  const shards = new Map<string, Uint8Array>();
  for (const group of parsed.weightsManifest ?? []) {
    for (const p of group.paths) shards.set(p, new Uint8Array(await (await fetchOk(new URL(p, base).href, `weight shard ${p}`)).arrayBuffer()));
  }
  const model = await modelFromArtifacts(artifactsFromFiles(text, (p) => shards.get(p), modelUrl));
  let manifest: ZooManifest | null = null;
  if (manifestUrl) manifest = (await (await fetchOk(manifestUrl, 'model manifest')).json()) as ZooManifest;
  return { model, manifest };
}

/**
 * Loads a model from picked files: model.json plus its shards (matched by base name), or one .safetensors WRN
 * state_dict. A manifest.json among them is read too.
 * @throws Error saying what was expected when the files do not form a model
 */
export async function loadModelFromFiles(files: Array<{ name: string; bytes: ArrayBuffer }>): Promise<{ model: tf.LayersModel; manifest: ZooManifest | null }> {
  if (files.length === 0) throw new Error('no files: pick model.json with its .bin weight files, or a .safetensors file');
  const base = (n: string) => n.split(/[\\/]/).pop()!;
  const byName = new Map(files.map((f) => [base(f.name), new Uint8Array(f.bytes)]));
  const text = (name: string) => new TextDecoder().decode(byName.get(name)!);
  let manifest: ZooManifest | null = null;
  if (byName.has('manifest.json')) {
    try {
      manifest = JSON.parse(text('manifest.json')) as ZooManifest;
    } catch {
      throw new Error('manifest.json is not valid JSON');
    }
  }
  const modelJson = [...byName.keys()].find((n) => n.endsWith('.json') && n !== 'manifest.json');
  if (modelJson) {
    const model = await modelFromArtifacts(artifactsFromFiles(text(modelJson), (p) => byName.get(base(p)), modelJson));
    return { model, manifest };
  }
  const st = [...byName.keys()].filter((n) => n.endsWith('.safetensors'));
  if (st.length === 1) {
    const { tensors, metadata } = readSafetensors(byName.get(st[0])!);
    const mean = metadata.mean ? (JSON.parse(metadata.mean) as number[]) : undefined;
    const std = metadata.std ? (JSON.parse(metadata.std) as number[]) : undefined;
    return { model: wrnFromStateDict(tensors, mean, std).model, manifest };
  }
  throw new Error(`no model among ${[...byName.keys()].join(', ')}: expected model.json with its .bin shards, or one .safetensors file`);
}
