/**
 * The engine side of the page: holds the loaded model, the data sets and the run, and answers the page's requests.
 * Runs inside the engine worker, or on the main thread when workers are unavailable (same code). The jobs it
 * delegates: model cards (modelCard.ts), the clean set a run gets (cleanSubset.ts), measurements (measure.ts),
 * downloads (exports.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { ATTACK_INFO } from '../engine/attacks/registry';
import type { Attack } from '../engine/attacks/types';
import { classCounts, type Dataset, subset } from '../engine/data/dataset';
import { decodeShard } from '../engine/data/shard';
import { needsTrigger } from '../engine/defense/config';
import type { DefenseEvent } from '../engine/defense/events';
import { predict } from '../engine/metrics';
import type { KeyStyle } from '../engine/model/resnet';
import { createRng } from '../engine/random';
import type { BackendName, BackendReport } from '../platform/selectBackend';
import { AttackLab } from './attackLab';
import { checkInvertible, cutCleanSet } from './cleanSubset';
import { DefenseRunner } from './defenseRunner';
import { eventTransfers } from './transfers';
import { type ExportSnapshot, layersModelFiles, snapshotForExport, torchFile } from './exports';
import { importImageFiles } from './imageImport';
import { makeStrip, quickEval } from './measure';
import { modelCard } from './modelCard';
import { loadModelFromFiles, loadModelFromUrl } from './modelLoader';
import { type DataSummary, EngineError, type ModelCard, type Rpc, type RpcName, type StartRequest, type WorkerMessage, type WorkerRequest } from './protocol';

/** Sends one message to the page (postMessage in a worker, a callback on the main thread). */
export type Post = (msg: WorkerMessage, transfer?: Transferable[]) => void;

/** Starts the TF.js backend (platform/browser/backend.ts initBrowserBackend in the page; something lighter in tests). */
export type InitBackend = (backend?: BackendName) => Promise<BackendReport>;

/** Requests served before the backend is ready: they touch no tensor. */
const WITHOUT_BACKEND = new Set<RpcName>(['init', 'cancelLoad', 'control', 'attacks', 'plantControl']);

/** A handler per request type, each typed by its own payload and result. */
type Handlers = { [K in RpcName]: (payload: Rpc[K][0]) => Promise<Rpc[K][1]> };

/** One request of type K (WorkerRequest narrowed), so a handler's payload and result types follow its type. */
type RequestOf<K extends RpcName> = { [P in K]: { id: number; type: P; payload: Rpc[P][0] } }[K];

/** The buffers of results made for the page alone (downloads, strip pixels), transferred instead of copied. */
const RESULT_TRANSFERS: { [K in RpcName]?: (result: Rpc[K][1]) => ArrayBuffer[] } = {
  exportWeights: (r) => [r.bytes],
  exportModel: (r) => [r.weights],
  strip: (s) => [s.clean.buffer, s.triggered.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer),
};

/** The engine's state and request handlers. */
export class EngineHost {
  private original: tf.LayersModel | null = null;
  private current: tf.LayersModel | null = null;
  private stem = 'model';
  private attack: Attack | null = null;
  /** The target as stated with the model, and as the last finished run found it (detection). */
  private target: number | null = null;
  private detectedTarget: number | null = null;
  private data: { clean?: Dataset; eval?: Dataset } = {};
  private runner: DefenseRunner | null = null;
  private runCounter = 0;
  private classNames: string[] | null = null;
  private uploadKeys: KeyStyle | undefined;
  private importing: { cancelled: boolean } | null = null;
  private exportSnapshot: ExportSnapshot | null = null;
  /** Live checks in progress, stopped when a run starts. */
  private readonly liveChecks = new Set<AbortController>();
  /** The attack lab (attackLab.ts): plants a backdoor, and its model then becomes the page's (adoptPlanted). */
  private readonly lab = new AttackLab({
    post: (m, t) => this.post(m, t),
    model: () => this.model('original'),
    evalSet: () => this.need(this.data.eval, 'the evaluation data'),
    defenseRunning: () => this.running(),
    adopt: (planted, facts) => this.adoptPlanted(planted, facts),
  });
  private backendReady: Promise<void>;
  private markReady!: (error?: unknown) => void;

  constructor(
    private readonly post: Post,
    private readonly initBackend: InitBackend,
  ) {
    // Requests that come before the backend is up (an upload as the page opens) wait for it instead of failing.
    this.backendReady = new Promise<void>((resolve, reject) => (this.markReady = (e) => (e === undefined ? resolve() : reject(e))));
    this.backendReady.catch(() => undefined);
  }

  /** Dispatches one request and posts its result or error. */
  async handle(req: WorkerRequest): Promise<void> {
    try {
      if (!WITHOUT_BACKEND.has(req.type)) {
        await this.backendReady.catch((e) => {
          throw new Error(`the engine could not start: ${e instanceof Error ? e.message : String(e)}`);
        });
      }
      await this.dispatch(req);
    } catch (e) {
      this.post({ id: req.id, type: 'error', message: e instanceof Error ? e.message : String(e), ...(e instanceof EngineError ? { code: e.code } : {}) });
    }
  }

  private async dispatch<K extends RpcName>(req: RequestOf<K>): Promise<void> {
    const handler: Handlers[K] | undefined = Object.hasOwn(this.handlers, req.type) ? this.handlers[req.type] : undefined;
    if (!handler) throw new Error(`unknown request ${req.type}`);
    const result = await handler(req.payload);
    this.post({ id: req.id, type: 'result', result }, RESULT_TRANSFERS[req.type]?.(result) ?? []);
  }

  private readonly handlers: Handlers = {
    init: (p) => this.init(p.backend),
    loadModel: (p) => this.loadModel(p),
    loadData: (p) => this.loadData(p),
    strip: async (p) => makeStrip(this.model(p.which), this.need(this.data.eval, 'the evaluation data'), p.perClass, this.attack, this.knownTarget()),
    evaluate: async ({ which, limit, seed }) => {
      // A live check gives way to a run that starts meanwhile (the run measures the same images itself).
      const abort = new AbortController();
      this.liveChecks.add(abort);
      try {
        return await quickEval(this.model(which), this.need(this.data.eval, 'the evaluation data'), limit, seed, this.attack, this.knownTarget(), abort.signal);
      } finally {
        this.liveChecks.delete(abort);
      }
    },
    memory: async () => ({ numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes }),
    predict: (p) => this.predictIndices(p),
    start: (p) => this.start(p),
    control: async (p) => ({ status: this.runner ? this.runner.control(p.action) : 'idle' }),
    reset: async () => this.reset(),
    exportModel: async () => layersModelFiles(this.need(this.exportSnapshot, 'a purified model')),
    exportWeights: async (p) => torchFile(this.need(this.exportSnapshot, 'a purified model'), p.format),
    // Trojan needs its patch and 'mask' its mask: neither can be named without the files that define them.
    attacks: async () => Object.values(ATTACK_INFO).filter((a) => a.name !== 'trojan' && a.name !== 'mask').map((a) => ({ name: a.name, title: a.title })),
    cancelLoad: async () => {
      const busy = this.importing !== null;
      if (this.importing) this.importing.cancelled = true;
      return { cancelled: busy };
    },
    plant: (p) => this.lab.plant(p),
    plantControl: async (p) => this.lab.control(p.action),
  };

  private async init(backend?: BackendName): Promise<BackendReport> {
    try {
      const r = await this.initBackend(backend);
      this.markReady();
      return r;
    } catch (e) {
      this.markReady(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  /** The stated target, else the one the last finished run detected; null while neither is known. */
  private knownTarget(): number | null {
    return this.target ?? this.detectedTarget;
  }

  private running(): boolean {
    return this.runner !== null && (this.runner.status === 'running' || this.runner.status === 'paused');
  }

  private async start(req: StartRequest): Promise<Rpc['start'][1]> {
    if (this.running()) throw new Error('a defense is already running: cancel it first');
    if (this.lab.running()) throw new Error('a backdoor is being planted: wait for it or cancel it first');
    for (const c of this.liveChecks) c.abort(new EngineError('a defense run started', 'run-started'));
    const model = this.need(this.original, 'a model');
    const loaded = this.need(this.data.clean, 'the clean data');
    if (loaded.n === 0) throw new Error('the clean data set is empty: upload at least one image per class');
    const { dataset: clean, warnings } = cutCleanSet(loaded, { percent: req.cleanPercent, limit: req.cleanLimit }, createRng(req.config.seed ?? 0));
    const method = req.config.method ?? 'mcldef';
    if (needsTrigger(method) && req.config.target !== undefined) checkInvertible(clean, req.config.target);
    this.reset();
    const runId = ++this.runCounter;
    const runner = new DefenseRunner(
      runId,
      (event) => this.post({ type: 'run-event', runId, event }, eventTransfers(event)),
      (m) => this.post(m),
    );
    this.runner = runner;
    const attack = this.attack;
    void runner.run(
      req.config,
      {
        model,
        clean,
        evalSet: this.data.eval,
        trueTrigger: attack ? (x) => attack.applyTensor(x) : undefined,
        trueTarget: this.target ?? undefined,
        yieldEvery: 1,
        classNames: this.classNames ?? undefined,
      },
      async (purified, summary) => {
        // Read the weights for the downloads now, before the page hears the run is done and queues more work on the
        // backend; keep the model if it is still the page's run (no reset or other model meanwhile).
        const wanted = () => this.runner === runner && this.original === model;
        if (!wanted()) return false;
        const snapshot = await snapshotForExport(purified, this.stem, this.uploadKeys);
        if (!wanted()) return false;
        this.current = purified;
        this.exportSnapshot = snapshot;
        this.detectedTarget = this.target === null ? summary.target : null;
        return true;
      },
    );
    return { runId, cleanImages: clean.n, evalImages: this.data.eval?.n ?? 0, warnings };
  }

  private reset(): Rpc['reset'][1] {
    // A run in progress stops (it still reports its end); a finished one's model is let go.
    if (this.running()) this.runner!.control('cancel');
    this.runner = null;
    if (this.current && this.current !== this.original) this.current.dispose();
    this.current = this.original;
    this.exportSnapshot = null;
    return { numTensors: tf.memory().numTensors };
  }

  /** The attack lab's planted model becomes the page's model, its attack and target known; null if the page moved on. */
  private async adoptPlanted(planted: tf.LayersModel, f: Parameters<ConstructorParameters<typeof AttackLab>[0]['adopt']>[1]): Promise<ModelCard | null> {
    if (this.original !== f.base || this.running()) return null;
    // The planted model downloads as a purified one does: from a snapshot read now.
    const snapshot = await snapshotForExport(planted, 'planted');
    if (this.original !== f.base || this.running()) return null;
    const names = this.classNames ?? undefined;
    const manifest = {
      name: 'planted',
      title: `Planted: ${f.title} → ${names?.[f.target] ?? `class ${f.target}`}`,
      backdoored: true,
      classNames: names,
      attack: { name: f.attackName, title: f.title, description: f.attack.description, trigger: f.title },
      target: f.target,
      metrics: { ba: f.summary.after.ba, asr: f.summary.after.asr, nClean: f.summary.after.n },
    };
    const facts = modelCard({ model: planted, manifest, source: 'upload', options: {}, trojanPatch: null });
    this.reset();
    this.original.dispose();
    this.original = planted;
    this.current = planted;
    this.stem = 'planted';
    this.target = f.target;
    this.detectedTarget = null;
    this.attack = f.attack;
    this.classNames = facts.classNames;
    this.uploadKeys = undefined;
    this.exportSnapshot = snapshot;
    return facts.card;
  }

  private async loadModel({ source }: Rpc['loadModel'][0]): Promise<ModelCard> {
    if (this.running()) throw new Error('a defense is running: cancel it before loading another model');
    if (this.lab.running()) throw new Error('a backdoor is being planted: cancel it before loading another model');
    // Load first, replace after: a failed load keeps the model the page already had.
    const opts = source.kind === 'files' ? source.options ?? {} : {};
    const loaded =
      source.kind === 'url'
        ? { ...(await loadModelFromUrl(source.modelUrl, source.manifestUrl)), source: 'zoo' as const, keys: undefined, description: undefined }
        : { ...(await loadModelFromFiles(source.files, opts)), source: 'upload' as const, trojanPatch: null };
    const { model, manifest } = loaded;
    let facts;
    try {
      facts = modelCard({ model, manifest, source: loaded.source, description: loaded.description, options: opts, trojanPatch: loaded.trojanPatch });
    } catch (e) {
      model.dispose();
      throw e;
    }
    // The current data must fit the new model; evaluation data of another size is dropped (the page reloads it).
    const [, h, w] = model.inputs[0].shape as number[];
    for (const role of ['clean', 'eval'] as const) {
      const ds = this.data[role];
      if (ds && (ds.height !== h || ds.width !== w || ds.classNames.length > facts.card.numClasses)) delete this.data[role];
    }
    this.reset();
    this.original?.dispose();
    this.original = model;
    this.current = model;
    this.stem = manifest?.name ?? 'model';
    this.target = facts.target;
    this.detectedTarget = null;
    this.attack = facts.attack;
    this.classNames = facts.classNames;
    this.uploadKeys = loaded.keys;
    return facts.card;
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

  private model(which: 'original' | 'current'): tf.LayersModel {
    return this.need(which === 'original' ? this.original : this.current, 'a model');
  }

  private async predictIndices({ which, indices }: Rpc['predict'][0]): Promise<number[]> {
    const ds = this.need(this.data.eval, 'the evaluation data');
    const model = this.model(which);
    const bad = indices.find((i) => !(Number.isInteger(i) && i >= 0 && i < ds.n));
    if (bad !== undefined) throw new Error(`image index ${bad} is outside the evaluation set (0-${ds.n - 1})`);
    return Array.from(await predict(model, subset(ds, indices)));
  }
}
