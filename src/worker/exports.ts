/**
 * The purified model's downloads. When a run ends, the host reads the model's weights once into plain memory
 * ({@link snapshotForExport}), before the page hears that the run is done; every download is then built from that
 * copy without touching the backend. On a GPU backend a weight read waits for all work queued before it, so an
 * export that read the model would wait behind whatever the page asked for after the run (the strip of images
 * after purification, on a slow GPU tens of seconds); from the copy it does not wait at all.
 */
import type * as tf from '@tensorflow/tfjs';
import { writeSafetensors } from '../engine/io/safetensors';
import { writeTorchCheckpoint } from '../engine/io/torchCheckpoint';
import { architectureOf } from '../engine/model/introspect';
import { stateDictFromModel } from '../engine/model/stateDictExport';
import { modelToArtifacts } from '../engine/model/io';
import type { KeyStyle } from '../engine/model/resnet';
import type { StateDict } from '../engine/model/torchWeights';

/** A purified model's weights in plain memory, ready to write in every download format. */
export interface ExportSnapshot {
  /** TF.js LayersModel artifacts (topology + weights). */
  artifacts: tf.io.ModelArtifacts;
  /** The PyTorch state_dict, or why there is none (an architecture the engine cannot name in PyTorch keys). */
  stateDict: StateDict | null;
  stateDictError: string;
  /** safetensors metadata: producer, architecture, input normalization. */
  meta: Record<string, string>;
  /** The first weight holding NaN or infinite values (a run that diverged), or null: such a model is not offered. */
  nonFinite: string | null;
  /** File name stem, e.g. "badnets" for badnets-purified.pth. */
  stem: string;
}

/**
 * Reads `model`'s weights into an {@link ExportSnapshot}.
 * @param keys PyTorch key spellings of the uploaded checkpoint (shortcut/downsample, linear/fc), to write them back alike
 */
export async function snapshotForExport(model: tf.LayersModel, stem: string, keys?: KeyStyle): Promise<ExportSnapshot> {
  const artifacts = await modelToArtifacts(model);
  const info = architectureOf(model);
  const meta: Record<string, string> = { format: 'pt', producer: 'mcldef-playground', arch: info?.arch ?? 'unknown' };
  if (info?.config && 'mean' in info.config) {
    meta.mean = JSON.stringify(info.config.mean);
    meta.std = JSON.stringify(info.config.std);
  }
  let stateDict: StateDict | null = null;
  let stateDictError = '';
  try {
    stateDict = await stateDictFromModel(model, { keys });
  } catch (e) {
    stateDictError = e instanceof Error ? e.message : String(e);
  }
  return { artifacts, stateDict, stateDictError, meta, stem, nonFinite: firstNonFinite(artifacts) };
}

/** The artifacts' weight data in one fresh buffer (a copy: transferring it leaves the artifacts whole). */
function weightBytes(a: tf.io.ModelArtifacts): Uint8Array {
  const parts = Array.isArray(a.weightData) ? a.weightData : a.weightData ? [a.weightData] : [];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return bytes;
}

/** The first float32 weight of the artifacts with a NaN or infinite value, or null. */
function firstNonFinite(a: tf.io.ModelArtifacts): string | null {
  const bytes = weightBytes(a);
  let offset = 0;
  for (const spec of a.weightSpecs ?? []) {
    const n = spec.shape.reduce((x, y) => x * y, 1);
    const width = spec.dtype === 'float32' || spec.dtype === 'int32' || spec.dtype === undefined ? 4 : spec.dtype === 'bool' ? 1 : 4;
    if ((spec.dtype ?? 'float32') === 'float32') {
      const v = new Float32Array(bytes.buffer, offset, n);
      for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) return spec.name;
    }
    offset += n * width;
  }
  return null;
}

/** Refuses a snapshot whose weights are not all finite, saying so. */
function checkFinite(s: ExportSnapshot): void {
  if (s.nonFinite) throw new Error(`the purified model's weight ${s.nonFinite} holds NaN or infinite values (training diverged): nothing to download; run again with a smaller learning rate`);
}

/** The model as TF.js LayersModel files: model.json (weights in one weights.bin) and the weights. */
export function layersModelFiles(s: ExportSnapshot): { modelJson: string; weights: ArrayBuffer } {
  checkFinite(s);
  const a = s.artifacts;
  const modelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: 'mcldef-playground',
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  });
  // A fresh buffer per download, so transferring it to the page leaves the snapshot whole.
  return { modelJson, weights: weightBytes(a).buffer as ArrayBuffer };
}

/** The state_dict as a PyTorch file: a torch.save zip (.pth) or safetensors, in a buffer of its own (transferable). */
export function torchFile(s: ExportSnapshot, format: 'safetensors' | 'pth'): { name: string; bytes: ArrayBuffer } {
  checkFinite(s);
  if (!s.stateDict) throw new Error(`this model cannot be written as a PyTorch state_dict: ${s.stateDictError}`);
  const bytes = format === 'pth' ? writeTorchCheckpoint(s.stateDict) : writeSafetensors(s.stateDict, s.meta);
  const out = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { name: `${s.stem}-purified.${format}`, bytes: out };
}
