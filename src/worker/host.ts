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
import { registerWasmTrainingKernels } from '../engine/kernels/wasmTraining';
import { classBalancedSplit } from '../engine/data/dataset';
import { createRng } from '../engine/random';
import { modelToArtifacts } from '../engine/model/io';
import { DefenseRunner } from './defenseRunner';
import type { DataSummary, ModelCard, QuickEval, Rpc, RpcName, StartRequest, StripResult, WorkerRequest } from './protocol';
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
  private runner: DefenseRunner | null = null;
  private runCounter = 0;

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
        return initBrowserBackend(req.payload.backend).then((r) => {
          if (r.backend === 'wasm') registerWasmTrainingKernels();
          return r;
        });
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
      case 'start':
        return this.start(req.payload);
      case 'control':
        return Promise.resolve({ status: this.runner ? this.runner.control(req.payload.action) : 'idle' });
      case 'reset':
        return this.reset();
      case 'exportModel':
        return this.exportModel();
      default:
        return Promise.reject(new Error(`unknown request ${(req as { type: string }).type}`));
    }
  }

  private async start(req: StartRequest): Promise<Rpc['start'][1]> {
    if (this.runner && (this.runner.status === 'running' || this.runner.status === 'paused')) {
      throw new Error('a defense is already running: cancel it first');
    }
    const model = this.need(this.original, 'a model');
    const clean0 = this.need(this.data.clean, 'the clean data');
    if (clean0.n === 0) throw new Error('the clean data set is empty: upload at least one image per class');
    // The demo ships 5% of the training set; a smaller share subsamples it class by class.
    let clean = clean0;
    if (req.cleanPercent < 5) clean = subset(clean0, classBalancedSplit(clean0, Math.max(1e-6, req.cleanPercent / 5), createRng(req.config.seed ?? 0).fork('clean-share')).selected);
    if (req.cleanLimit > 0 && clean.n > req.cleanLimit) clean = subset(clean, classBalancedSplit(clean, Math.max(1, Math.floor(req.cleanLimit / clean.classNames.length)), createRng(req.config.seed ?? 0).fork('clean-limit')).selected);
    await this.reset();
    const runId = ++this.runCounter;
    const runner = new DefenseRunner(
      runId,
      (event) => this.post({ type: 'run-event', runId, event }),
      (m) => this.post(m),
    );
    this.runner = runner;
    const trueTarget = this.manifest?.target;
    const attack = this.attack;
    void runner
      .run(req.config, {
        model,
        clean,
        evalSet: this.data.eval,
        trueTrigger: attack ? (x) => attack.applyTensor(x) : undefined,
        trueTarget: trueTarget ?? undefined,
        yieldEvery: 1,
      })
      .then((purified) => {
        if (this.runner === runner && purified) this.current = purified;
        else purified?.dispose();
      });
    return { runId, cleanImages: clean.n, evalImages: this.data.eval?.n ?? 0 };
  }

  private async reset(): Promise<Rpc['reset'][1]> {
    if (this.runner && (this.runner.status === 'running' || this.runner.status === 'paused')) this.runner.control('cancel');
    if (this.current && this.current !== this.original) this.current.dispose();
    this.current = this.original;
    return { numTensors: tf.memory().numTensors };
  }

  private async exportModel(): Promise<Rpc['exportModel'][1]> {
    const model = this.need(this.current !== this.original ? this.current : null, 'a purified model');
    const a = await modelToArtifacts(model);
    const modelJson = JSON.stringify({
      format: 'layers-model',
      generatedBy: 'mcldef-playground',
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    });
    return { modelJson, weights: a.weightData as ArrayBuffer };
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

  private async evaluate({ which, limit }: Rpc['evaluate'][0]): Promise<QuickEval> {
    let ds = this.need(this.data.eval, 'the evaluation data');
    if (limit > 0 && limit < ds.n) {
      const per = Math.max(1, Math.floor(limit / ds.classNames.length));
      ds = subset(ds, indicesByClass(ds).flatMap((m) => m.slice(0, per)));
    }
    const model = this.need(which === 'original' ? this.original : this.current, 'a model');
    const target = this.manifest?.target ?? 0;
    const r = await evaluateBackdoor(model, ds, this.attack ? (x) => this.attack!.applyTensor(x) : null, target, { batchSize: 100 });
    return { ba: r.ba, asr: r.asr, n: r.nClean, nAsr: r.nAsr, perClass: r.perClass };
  }
}
