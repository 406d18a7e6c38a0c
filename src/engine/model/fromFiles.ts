/**
 * A model from files as a user picks them (browser) or names them (CLI): model.json plus its shards (matched by
 * base name), one PyTorch checkpoint (.pth/.pt/.ckpt: zip or legacy torch.save format, read by the project's safe
 * reader), or one .safetensors state_dict, of a WRN-d-k, ResNet-18 or PreAct-ResNet-18. Pure: bytes in, a
 * [features, logits] LayersModel out, so the page's worker and the Node CLI share it.
 */
import type * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../io/safetensors';
import { readTorchCheckpoint } from '../io/torchCheckpoint';
import { ARCHITECTURES } from './architectures';
import { architectureOf } from './introspect';
import { modelFromStateDict } from './stateDictLoad';
import { artifactsFromFiles, modelFromArtifacts, withFeatureOutputs } from './io';
import type { KeyStyle } from './resnet';
import type { StateDict } from './torchWeights';
import { CIFAR10_MEAN, CIFAR10_STD } from '../data/cifar10';

/** Input normalization for state_dicts (default: the file's metadata, else CIFAR-10's). */
export interface NormalizationOptions {
  mean?: number[];
  std?: number[];
}

/** A model loaded from files, with what to tell the user about it. */
export interface ModelFromFiles {
  model: tf.LayersModel;
  /** e.g. "PreAct-ResNet-18, 10 classes, 11.17 M parameters (PyTorch zip checkpoint, state_dict under 'net')". */
  description: string;
  /** 'wrn' | 'resnet18' | 'preactresnet18', or the TF.js model's name for other architectures. */
  arch: string;
  /** Key spellings of an uploaded state_dict (shortcut/downsample, linear/fc), for exporting it back alike. */
  keys?: KeyStyle;
}

const TORCH_FILE = /\.(pth|pt|ckpt|tar|pkl)$/i;

function stateDictModel(sd: StateDict, opts: NormalizationOptions, source: string): ModelFromFiles {
  const loaded = modelFromStateDict(sd, { mean: opts.mean ?? [...CIFAR10_MEAN], std: opts.std ?? [...CIFAR10_STD] });
  return { model: loaded.model, description: `${loaded.description} (${source})`, arch: loaded.arch, keys: loaded.keys };
}

/**
 * Loads a model from files (a manifest.json among them is ignored here; the app reads it).
 * @throws Error saying what was expected when the files do not form a model
 */
export async function modelFromFiles(files: Array<{ name: string; bytes: ArrayBuffer | Uint8Array }>, opts: NormalizationOptions = {}): Promise<ModelFromFiles> {
  const base = (n: string) => n.split(/[\\/]/).pop()!;
  const byName = new Map(files.filter((f) => base(f.name) !== 'manifest.json').map((f) => [base(f.name), f.bytes instanceof Uint8Array ? f.bytes : new Uint8Array(f.bytes)]));
  if (byName.size === 0) throw new Error('no files: pick model.json with its .bin weight files, a PyTorch .pth checkpoint, or a .safetensors file');
  const modelJson = [...byName.keys()].find((n) => n.endsWith('.json'));
  if (modelJson) {
    const text = new TextDecoder().decode(byName.get(modelJson)!);
    const model = withFeatureOutputs(await modelFromArtifacts(artifactsFromFiles(text, (p) => byName.get(base(p)), modelJson)));
    const info = architectureOf(model);
    const arch = info ? ARCHITECTURES[info.arch].label : model.name;
    return { model, description: `${arch}, TensorFlow.js LayersModel (${modelJson})`, arch: info?.arch ?? model.name };
  }
  const torch = [...byName.keys()].filter((n) => TORCH_FILE.test(n));
  const st = [...byName.keys()].filter((n) => n.endsWith('.safetensors'));
  if (torch.length + st.length > 1) throw new Error(`several weight files (${[...torch, ...st].join(', ')}): pick one checkpoint at a time`);
  if (torch.length === 1) {
    const ck = await readTorchCheckpoint(byName.get(torch[0])!);
    const where = ck.container === 'top-level' ? 'state_dict at the top level' : `state_dict under '${ck.container}'`;
    return stateDictModel(ck.stateDict, opts, `PyTorch ${ck.format === 'zip' ? 'zip' : 'legacy (pre-1.6)'} checkpoint, ${where}`);
  }
  if (st.length === 1) {
    const { tensors, metadata } = readSafetensors(byName.get(st[0])!);
    const ignored: string[] = [];
    /** The file's mean or std; a malformed one is refused, or, when the caller gave its own, ignored and said so. */
    const meta = (k: 'mean' | 'std', given: number[] | undefined): number[] | undefined => {
      if (metadata[k] === undefined) return undefined;
      let v: unknown;
      try {
        v = JSON.parse(metadata[k]);
      } catch {
        v = metadata[k];
      }
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (k === 'mean' || x > 0))) {
        const shown = JSON.stringify(metadata[k]).slice(0, 40);
        const expected = `a list of ${k === 'std' ? 'positive ' : ''}numbers such as [0.5, 0.5, 0.5]`;
        if (given) {
          ignored.push(`its metadata "${k}" is ${shown}, not ${expected}: ignored, the ${k} given applies`);
          return undefined;
        }
        throw new Error(`${st[0]}: its metadata "${k}" is ${shown}, expected ${expected}`);
      }
      return v as number[];
    };
    // Normalization recorded in the file (the zoo writes it) wins over the defaults, not over the caller's.
    const mean = meta('mean', opts.mean);
    const std = meta('std', opts.std);
    const source = ['safetensors state_dict', ...ignored].join('; ');
    return stateDictModel(tensors, { mean: opts.mean ?? mean, std: opts.std ?? std }, source);
  }
  const names = [...byName.keys()];
  if (names.some((n) => n.endsWith('.bin'))) throw new Error(`weight shards (${names.join(', ')}) without their model.json: pick model.json together with its .bin files`);
  throw new Error(`no model among ${names.join(', ')}: expected model.json with its .bin shards, a PyTorch checkpoint (.pth, .pt), or a .safetensors file`);
}
