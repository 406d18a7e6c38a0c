/**
 * Loading models in the browser (worker or main thread): the zoo by URL, or files the user picked. Pure fetch and
 * bytes, no DOM, so the same code runs in a worker.
 */
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../engine/io/safetensors';
import { artifactsFromFiles, modelFromArtifacts, withFeatureOutputs } from '../engine/model/io';
import { readTorchCheckpoint } from '../engine/io/torchCheckpoint';
import { ARCHITECTURES, architectureOf, modelFromStateDict } from '../engine/model/architectures';
import type { KeyStyle } from '../engine/model/resnet';
import type { StateDict } from '../engine/model/torchWeights';
import { CIFAR_MEAN, CIFAR_STD } from '../engine/model/wrn';

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

/** Input normalization and class names the user set for an uploaded PyTorch state_dict (CIFAR-10 defaults). */
export interface UploadOptions {
  mean?: number[];
  std?: number[];
  classNames?: string[];
}

/** A model loaded from files, with what the page says about it. */
export interface UploadedModel {
  model: tf.LayersModel;
  manifest: ZooManifest | null;
  /** e.g. "PreAct-ResNet-18, 10 classes, 11.17 M parameters (PyTorch zip checkpoint, state_dict under 'net')". */
  description: string;
  arch: string;
  /** Key spellings of the uploaded state_dict (shortcut/downsample, linear/fc), for exporting it back alike. */
  keys?: KeyStyle;
}

const TORCH_FILE = /\.(pth|pt|ckpt|tar|pkl)$/i;

function stateDictModel(sd: StateDict, opts: UploadOptions, source: string, manifest: ZooManifest | null): UploadedModel {
  const mean = opts.mean ?? CIFAR_MEAN;
  const std = opts.std ?? CIFAR_STD;
  const loaded = modelFromStateDict(sd, { mean, std });
  return { model: loaded.model, manifest, description: `${loaded.description} (${source})`, arch: loaded.arch, keys: 'keys' in loaded ? (loaded.keys as KeyStyle | undefined) : undefined };
}

/**
 * Loads a model from picked files: model.json plus its shards (matched by base name), one PyTorch checkpoint
 * (.pth/.pt: zip or legacy torch.save format, read by the project's safe reader; WRN-d-k, ResNet-18 or
 * PreAct-ResNet-18), or one .safetensors state_dict. A manifest.json among them is read too.
 * @throws Error saying what was expected when the files do not form a model
 */
export async function loadModelFromFiles(files: Array<{ name: string; bytes: ArrayBuffer }>, opts: UploadOptions = {}): Promise<UploadedModel> {
  if (files.length === 0) throw new Error('no files: pick model.json with its .bin weight files, a PyTorch .pth checkpoint, or a .safetensors file');
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
    const model = withFeatureOutputs(await modelFromArtifacts(artifactsFromFiles(text(modelJson), (p) => byName.get(base(p)), modelJson)));
    const info = architectureOf(model);
    const arch = info ? ARCHITECTURES[info.arch].label : model.name;
    return { model, manifest, description: `${arch}, TensorFlow.js LayersModel (${modelJson})`, arch: info?.arch ?? model.name };
  }
  const torch = [...byName.keys()].filter((n) => TORCH_FILE.test(n));
  const st = [...byName.keys()].filter((n) => n.endsWith('.safetensors'));
  if (torch.length + st.length > 1) throw new Error(`several weight files (${[...torch, ...st].join(', ')}): pick one checkpoint at a time`);
  if (torch.length === 1) {
    const ck = await readTorchCheckpoint(byName.get(torch[0])!);
    const where = ck.container === 'top-level' ? 'state_dict at the top level' : `state_dict under '${ck.container}'`;
    return stateDictModel(ck.stateDict, opts, `PyTorch ${ck.format === 'zip' ? 'zip' : 'legacy (pre-1.6)'} checkpoint, ${where}`, manifest);
  }
  if (st.length === 1) {
    const { tensors, metadata } = readSafetensors(byName.get(st[0])!);
    const meta = (k: string) => {
      try {
        return metadata[k] ? (JSON.parse(metadata[k]) as number[]) : undefined;
      } catch {
        return undefined;
      }
    };
    // Normalization recorded in the file (the zoo writes it) wins over the form's defaults, not over the user's.
    return stateDictModel(tensors, { ...opts, mean: opts.mean ?? meta('mean'), std: opts.std ?? meta('std') }, 'safetensors state_dict', manifest);
  }
  const names = [...byName.keys()];
  if (names.some((n) => n.endsWith('.bin'))) throw new Error(`weight shards (${names.join(', ')}) without their model.json: pick model.json together with its .bin files`);
  throw new Error(`no model among ${names.join(', ')}: expected model.json with its .bin shards, a PyTorch checkpoint (.pth, .pt), or a .safetensors file`);
}
