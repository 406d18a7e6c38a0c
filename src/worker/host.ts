/**
 * The engine side of the page: holds the backend, the loaded model, the data sets, and answers the page's
 * requests. Runs inside the engine worker, or on the main thread when workers are unavailable (same code).
 */
import * as tf from '@tensorflow/tfjs';
import { stampDataset } from '../engine/attacks/poison';
import { getAttack, isAttackName } from '../engine/attacks/registry';
import type { Attack } from '../engine/attacks/types';
import { classCounts, type Dataset, indicesByClass, subset } from '../engine/data/dataset';
import { decodeShard } from '../engine/data/shard';
import { evaluateBackdoor, predict } from '../engine/metrics';
import { describeModel } from '../engine/model/wrn';
import { initBrowserBackend } from '../platform/browser/backend';
import type { DataSummary, ModelCard, QuickEval, Rpc, RpcName, StripResult, WorkerRequest } from './protocol';
import { loadModelFromFiles, loadModelFromUrl, type ZooManifest } from './modelLoader';

/** Sends one message to the page (postMessage in a worker, a callback on the main thread). */
export type Post = (msg: unknown, transfer?: Transferable[]) => void;

function toRgba(ds: Dataset, indices: number[]): Uint8ClampedArray {
  const px = ds.height * ds.width;
  const out = new Uint8ClampedArray(indices.length * px * 4);
  indices.forEach((idx, k) => {
    for (let j = 0; j < px; j++) {
      const s = (idx * px + j) * ds.channels;
      const d = (k * px + j) * 4;
      out[d] = ds.images[s];
      out[d + 1] = ds.images[s + (ds.channels > 1 ? 1 : 0)];
      out[d + 2] = ds.images[s + (ds.channels > 2 ? 2 : 0)];
      out[d + 3] = 255;
    }
  });
  return out;
}

/** The engine's state and request handlers. */
export class EngineHost {
  private original: tf.LayersModel | null = null;
  private current: tf.LayersModel | null = null;
  private manifest: ZooManifest | null = null;
  private attack: Attack | null = null;
  private data: { clean?: Dataset; eval?: Dataset } = {};

  constructor(private readonly post: Post) {}

  /** Dispatches one request and posts its result or error. */
  async handle(req: WorkerRequest): Promise<void> {
    try {
      const result = await this.run(req);
      this.post({ id: req.id, type: 'result', result });
    } catch (e) {
      this.post({ id: req.id, type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  private run(req: WorkerRequest): Promise<Rpc[RpcName][1]> {
    switch (req.type) {
      case 'init':
        return initBrowserBackend(req.payload.backend);
      case 'loadModel':
        return this.loadModel(req.payload);
      case 'loadData':
        return this.loadData(req.payload);
      case 'strip':
        return this.strip(req.payload);
      case 'evaluate':
        return this.evaluate(req.payload);
      case 'memory':
        return Promise.resolve({ numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes });
    }
  }

  private async loadModel({ source }: Rpc['loadModel'][0]): Promise<ModelCard> {
    // Load first, replace after: a failed load keeps the model the page already had.
    const { model, manifest } = source.kind === 'url' ? await loadModelFromUrl(source.modelUrl, source.manifestUrl) : await loadModelFromFiles(source.files);
    const info = describeModel(model);
    let attack: Attack | null = null;
    const name = manifest?.attack?.name === 'none' ? manifest.attack.asrTrigger : manifest?.attack?.name;
    if (name && isAttackName(name) && name !== 'trojan' && name !== 'mask') attack = getAttack(name);
    if (this.current && this.current !== this.original) this.current.dispose();
    this.original?.dispose();
    this.original = model;
    this.current = model;
    this.manifest = manifest;
    this.attack = attack;
    const classNames = manifest?.classNames ?? Array.from({ length: info.numClasses }, (_, i) => `class ${i}`);
    return {
      name: manifest?.name ?? 'uploaded model',
      title: manifest?.title ?? model.name,
      arch: manifest?.arch ?? model.name,
      params: model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      inputShape: info.inputShape,
      numClasses: info.numClasses,
      classNames,
      backdoored: manifest?.backdoored ?? true,
      attack: manifest?.attack ? { name: manifest.attack.name, title: manifest.attack.title, description: manifest.attack.description, trigger: manifest.attack.trigger } : null,
      target: manifest?.target ?? null,
      claimed: manifest?.metrics ? { ba: manifest.metrics.ba, asr: manifest.metrics.asr, n: manifest.metrics.nClean } : null,
    };
  }

  private async loadData({ role, source }: Rpc['loadData'][0]): Promise<DataSummary> {
    let bytes: ArrayBuffer;
    if (source.kind === 'url') {
      const res = await fetch(source.url);
      if (!res.ok) throw new Error(`could not download ${source.url}: HTTP ${res.status}`);
      bytes = await res.arrayBuffer();
    } else bytes = source.bytes;
    const ds = decodeShard(bytes);
    this.data[role] = ds;
    return { role, n: ds.n, height: ds.height, width: ds.width, classNames: [...ds.classNames], counts: classCounts(ds) };
  }

  private need<T>(v: T | null | undefined, what: string): T {
    if (v === null || v === undefined) throw new Error(`${what} is not loaded yet`);
    return v;
  }

  private async strip({ perClass, which }: Rpc['strip'][0]): Promise<StripResult> {
    const ds = this.need(this.data.eval, 'the evaluation data');
    const model = this.need(which === 'original' ? this.original : this.current, 'a model');
    const target = this.manifest?.target ?? -1;
    const idx = indicesByClass(ds)
      .filter((_, c) => c !== target)
      .flatMap((members) => members.slice(0, perClass));
    const part = subset(ds, idx);
    const cleanPred = await predict(model, part);
    let triggeredPred = cleanPred;
    let trig = part;
    if (this.attack) {
      trig = stampDataset(part, this.attack);
      triggeredPred = await predict(model, trig);
    }
    const all = Array.from({ length: part.n }, (_, i) => i);
    return {
      clean: toRgba(part, all),
      triggered: toRgba(trig, all),
      height: ds.height,
      width: ds.width,
      labels: Array.from(part.labels),
      cleanPred: Array.from(cleanPred),
      triggeredPred: Array.from(triggeredPred),
    };
  }

  private async evaluate({ which }: Rpc['evaluate'][0]): Promise<QuickEval> {
    const ds = this.need(this.data.eval, 'the evaluation data');
    const model = this.need(which === 'original' ? this.original : this.current, 'a model');
    const target = this.manifest?.target ?? 0;
    const r = await evaluateBackdoor(model, ds, this.attack ? (x) => this.attack!.applyTensor(x) : null, target, { batchSize: 100 });
    return { ba: r.ba, asr: r.asr, n: r.nClean, nAsr: r.nAsr, perClass: r.perClass };
  }
}
