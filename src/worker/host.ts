/**
 * The engine side of the page: holds the backend, the loaded model, the data sets, and answers the page's
 * requests. Runs inside the engine worker, or on the main thread when workers are unavailable (same code).
 */
import * as tf from '@tensorflow/tfjs';
import { stampDataset } from '../engine/attacks/poison';
import { getAttack, isAttackName } from '../engine/attacks/registry';
import type { Attack } from '../engine/attacks/types';
import { CIFAR10_CLASSES } from '../engine/data/cifar10';
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
import { importImageFiles } from './imageImport';
import { writeSafetensors } from '../engine/io/safetensors';
import { writeTorchCheckpoint } from '../engine/io/torchCheckpoint';
import { ARCHITECTURES, architectureOf, stateDictFromModel } from '../engine/model/architectures';
import type { KeyStyle } from '../engine/model/resnet';
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
  private classNames: string[] | null = null;
  private uploadKeys: KeyStyle | undefined;
  private importing: { cancelled: boolean } | null = null;

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
      case 'predict':
        return this.predictIndices(req.payload);
      case 'start':
        return this.start(req.payload);
      case 'control':
        return Promise.resolve({ status: this.runner ? this.runner.control(req.payload.action) : 'idle' });
      case 'reset':
        return this.reset();
      case 'exportModel':
        return this.exportModel();
      case 'exportWeights':
        return this.exportWeights(req.payload.format);
      case 'cancelLoad': {
        const busy = this.importing !== null;
        if (this.importing) this.importing.cancelled = true;
        return Promise.resolve({ cancelled: busy });
      }
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

  private async exportWeights(format: 'safetensors' | 'pth'): Promise<Rpc['exportWeights'][1]> {
    const model = this.need(this.current !== this.original ? this.current : null, 'a purified model');
    // PyTorch key names in the spelling the uploaded checkpoint used (shortcut/downsample, linear/fc).
    const sd = await stateDictFromModel(model, { keys: this.uploadKeys });
    const info = architectureOf(model);
    const meta: Record<string, string> = { format: 'pt', producer: 'mcldef-playground', arch: info?.arch ?? 'unknown' };
    if (info?.config && 'mean' in info.config) {
      meta.mean = JSON.stringify(info.config.mean);
      meta.std = JSON.stringify(info.config.std);
    }
    const bytes = format === 'pth' ? writeTorchCheckpoint(sd) : writeSafetensors(sd, meta);
    const name = `${this.manifest?.name ?? 'model'}-purified.${format === 'pth' ? 'pth' : 'safetensors'}`;
    const out = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return { name, bytes: out };
  }

  private async loadModel({ source }: Rpc['loadModel'][0]): Promise<ModelCard> {
    if (this.runner && (this.runner.status === 'running' || this.runner.status === 'paused')) throw new Error('a defense is running: cancel it before loading another model');
    // Load first, replace after: a failed load keeps the model the page already had.
    let model: tf.LayersModel;
    let manifest: ZooManifest | null;
    let description: string;
    let archName: string;
    let keys: KeyStyle | undefined;
    const opts = source.kind === 'files' ? source.options ?? {} : {};
    let trojanPatch: Float32Array | null = null;
    if (source.kind === 'url') {
      ({ model, manifest, trojanPatch } = await loadModelFromUrl(source.modelUrl, source.manifestUrl));
      const info = architectureOf(model);
      archName = manifest?.arch ?? info?.arch ?? model.name;
      description = info ? `${ARCHITECTURES[info.arch].label}, built-in model` : model.name;
    } else {
      const up = await loadModelFromFiles(source.files, opts);
      ({ model, manifest, description } = up);
      archName = manifest?.arch ?? up.description.split(',')[0]; // e.g. "WRN-16-1", "PreAct-ResNet-18"
      keys = up.keys;
    }
    const info = describeModel(model);
    const classNames = manifest?.classNames ?? opts.classNames ?? (info.numClasses === 10 ? [...CIFAR10_CLASSES] : Array.from({ length: info.numClasses }, (_, i) => `class ${i}`));
    if (classNames.length !== info.numClasses) {
      model.dispose();
      throw new Error(`${classNames.length} class names given but the model has ${info.numClasses} outputs`);
    }
    const target = manifest?.target ?? opts.target ?? null;
    if (target !== null && (target < 0 || target >= info.numClasses)) {
      model.dispose();
      throw new Error(`target class ${target} does not exist: the model has ${info.numClasses} classes`);
    }
    let attack: Attack | null = null;
    const name = manifest?.attack?.name === 'none' ? manifest.attack.asrTrigger : manifest?.attack?.name ?? opts.attack;
    if (name === 'trojan' && trojanPatch) attack = getAttack('trojan', { patch: trojanPatch });
    else if (name && isAttackName(name) && name !== 'trojan' && name !== 'mask') attack = getAttack(name);
    // The current data must fit the new model; evaluation data of another size is dropped (the page reloads it).
    const [, h, w] = model.inputs[0].shape as number[];
    for (const role of ['clean', 'eval'] as const) {
      const ds = this.data[role];
      if (ds && (ds.height !== h || ds.width !== w || ds.classNames.length > info.numClasses)) delete this.data[role];
    }
    if (this.current && this.current !== this.original) this.current.dispose();
    this.original?.dispose();
    this.original = model;
    this.current = model;
    this.manifest = manifest ? { ...manifest, target: target ?? undefined } : target !== null ? { target } : null;
    this.attack = attack;
    this.classNames = classNames;
    this.uploadKeys = keys;
    return {
      name: manifest?.name ?? 'uploaded model',
      source: source.kind === 'url' ? 'zoo' : 'upload',
      description,
      title: manifest?.title ?? (source.kind === 'files' ? `Your model (${archName})` : model.name),
      arch: archName,
      params: model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      inputShape: info.inputShape,
      numClasses: info.numClasses,
      classNames,
      backdoored: manifest?.backdoored ?? true,
      attack: manifest?.attack ? { name: manifest.attack.name, title: manifest.attack.title, description: manifest.attack.description, trigger: manifest.attack.trigger } : null,
      target,
      claimed: manifest?.metrics ? { ba: manifest.metrics.ba, asr: manifest.metrics.asr, n: manifest.metrics.nClean } : null,
    };
  }

  private async loadData({ role, source }: Rpc['loadData'][0]): Promise<DataSummary> {
    let ds: Dataset;
    let label: string;
    let warnings: string[] = [];
    if (source.kind === 'files') {
      const model = this.need(this.original, 'a model (its input size decides the image size)');
      if (this.importing) throw new Error('another image import is running: wait for it or cancel it');
      const [, h, w] = model.inputs[0].shape as number[];
      const flag = { cancelled: false };
      this.importing = flag;
      try {
        const numClasses = model.outputs[1].shape[1] as number;
        const r = await importImageFiles(source.files, {
          height: h,
          width: w,
          modelClassNames: this.classNames ?? undefined,
          numClasses,
          onProgress: (done, total) => this.post({ type: 'progress', task: 'import', done, total }),
          cancelled: () => flag.cancelled,
        });
        ds = r.dataset;
        warnings = r.plan.warnings;
        label = `${ds.n.toLocaleString('en')} of your images (${source.files.length} file${source.files.length === 1 ? '' : 's'})`;
      } finally {
        this.importing = null;
      }
    } else {
      let bytes: ArrayBuffer;
      if (source.kind === 'url') {
        const res = await fetch(source.url);
        if (!res.ok) throw new Error(`could not download ${source.url}: HTTP ${res.status}`);
        bytes = await res.arrayBuffer();
      } else bytes = source.bytes;
      ds = decodeShard(bytes);
      label = source.kind === 'url' ? source.url.split('/').pop()! : source.name;
    }
    // Replace only once the new set is complete: a failed import keeps the data the page had.
    this.data[role] = ds;
    return { role, n: ds.n, height: ds.height, width: ds.width, classNames: [...ds.classNames], counts: classCounts(ds), label, warnings };
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

  private async predictIndices({ which, indices }: Rpc['predict'][0]): Promise<number[]> {
    const ds = this.need(this.data.eval, 'the evaluation data');
    const model = this.need(which === 'original' ? this.original : this.current, 'a model');
    const bad = indices.find((i) => !(Number.isInteger(i) && i >= 0 && i < ds.n));
    if (bad !== undefined) throw new Error(`image index ${bad} is outside the evaluation set (0-${ds.n - 1})`);
    return Array.from(await predict(model, subset(ds, indices)));
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
