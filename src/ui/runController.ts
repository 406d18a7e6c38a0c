/**
 * Running the defense from the page: start, pause / resume / step / cancel, reset, FT side by side, the live
 * t-SNE, and downloads. Engine events are buffered and folded into the store at the chosen refresh rate.
 */
import type { DefenseEvent, DefenseMethod, DefenseSummary, ProbeFeaturesEvent } from '../engine/defense';
import type { WorkerPush } from '../worker/protocol';
import { engine, refreshBefore } from './controller';
import { toStartRequest } from './settings';
import { applyEvent, newRun, reportError, store, withStatus } from './store';
import { TsneClient } from './tsne/tsneClient';

let queue: DefenseEvent[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;
let unsubscribe: (() => void) | null = null;
let tsne: TsneClient | null = null;
let pendingFt = false;

function tsneClient(): TsneClient {
  if (!tsne) {
    tsne = new TsneClient();
    // The worker lives as long as the page: stop it (and drop a waiting refresh) when the page goes away.
    globalThis.addEventListener?.('pagehide', disposeTsne, { once: true });
  }
  return tsne;
}

/** Stops the t-SNE worker; the next run starts a fresh one. */
export function disposeTsne(): void {
  tsne?.dispose();
  tsne = null;
}

function embedProbe(e: ProbeFeaturesEvent, runId: number): void {
  const last = store.getState().run?.probe?.embedding ?? undefined;
  const previous = last?.length === e.labels.length * 2 ? last : undefined;
  tsneClient().request(
    // Cold start (no layout yet) runs to convergence with early exaggeration; warm starts glide from the last layout.
    { features: e.features, n: e.labels.length, dim: e.dim, previous, perplexity: 30, seed: store.getState().settings.seed + 1 },
    (r) => {
      const run = store.getState().run;
      if (!run || run.runId !== runId || !run.probe) return;
      if ('error' in r) return reportError(new Error(`t-SNE: ${r.error}`));
      if (r.embedding.length === run.probe.labels.length * 2) store.set({ run: { ...run, probe: { ...run.probe, embedding: r.embedding } } });
    },
  );
}

function drain(): void {
  timer = null;
  const run = store.getState().run;
  if (!run || queue.length === 0) return;
  let next = run;
  const now = Date.now();
  for (const e of queue) {
    next = applyEvent(next, e, now);
    if (e.type === 'probe-features') embedProbe(e, run.runId);
  }
  queue = [];
  store.set({ run: next });
}

function onMessage(m: WorkerPush): void {
  if (m.type !== 'run-event' && m.type !== 'run-end') return;
  const run = store.getState().run;
  if (!run || m.runId !== run.runId) return;
  if (m.type === 'run-event') {
    queue.push(m.event);
    timer ??= setTimeout(drain, 1000 / store.getState().settings.refresh);
  } else if (m.type === 'run-end') {
    drain();
    const cur = { ...withStatus(store.getState().run!, m.status, Date.now()), message: m.message ?? '' };
    store.set({ run: cur });
    if (m.status === 'failed') reportError(new Error(m.message ?? 'the defense failed'), 'Check the settings (target class, epochs) and the data, then start again.');
    if (m.status === 'done') void afterRun(cur.method, cur.summary);
  }
}

async function afterRun(method: DefenseMethod, summary: DefenseSummary | null): Promise<void> {
  try {
    if (method === 'ft' && pendingFt) {
      // The FT comparison ran first; now the chosen method runs, and its purified model is the one kept.
      pendingFt = false;
      store.set({ ftSummary: summary });
      await launch(store.getState().settings.method, false);
      return;
    }
    // BA and ASR after the run come from the run's own evaluation (its 'evaluation' events): no second one here.
    const stripAfter = await engine().call('strip', { perClass: 1, which: 'current' });
    store.set({ stripAfter });
    // A model without a stated target gets its live ASR once detection found one.
    if (store.getState().card?.target === null && summary?.target !== null && summary?.target !== undefined) await refreshBefore();
  } catch (e) {
    reportError(e);
  }
}

async function launch(method: DefenseMethod, clear: boolean): Promise<void> {
  const s = store.getState();
  const req = toStartRequest(s.settings, s.card!.target, method);
  if (clear) store.set({ stripAfter: null, ftSummary: null });
  const { runId, cleanImages, warnings } = await engine().call('start', req);
  queue = [];
  store.set({ run: newRun(runId, method, cleanImages, Date.now(), warnings) });
}

/**
 * Starts the defense with the current settings. With "compare with FT" on, plain fine-tuning runs first with the
 * same settings and the chosen method after it, so the page ends on the chosen method's purified model.
 */
export async function startRun(): Promise<void> {
  const s = store.getState();
  if (!s.card) return reportError(new Error('load a model first'));
  unsubscribe ??= engine().onMessage(onMessage);
  try {
    pendingFt = s.settings.compareFt && s.settings.method !== 'ft';
    await launch(pendingFt ? 'ft' : s.settings.method, true);
  } catch (e) {
    pendingFt = false;
    reportError(e, 'The defense could not start.');
  }
}

/** Pause, resume, single step or cancel the run in progress. */
export async function controlRun(action: 'pause' | 'resume' | 'step' | 'cancel'): Promise<void> {
  try {
    const { status } = await engine().call('control', { action });
    const run = store.getState().run;
    if (run && action !== 'cancel') store.set({ run: withStatus(run, status, Date.now()) });
  } catch (e) {
    reportError(e);
  }
}

/** Cancels any run, forgets the purified model, and shows the original again. */
export async function resetRun(): Promise<void> {
  try {
    pendingFt = false;
    const memory = await engine().call('reset', {});
    store.set({ run: null, stripAfter: null, ftSummary: null, memory: { numTensors: memory.numTensors, numBytes: 0 } });
    await refreshBefore();
  } catch (e) {
    reportError(e);
  }
}

function download(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Downloads the purified model (model.json + weights.bin, TF.js LayersModel format). */
export async function downloadModel(): Promise<void> {
  try {
    const { modelJson, weights } = await engine().call('exportModel', {});
    download('model.json', modelJson, 'application/json');
    download('weights.bin', weights, 'application/octet-stream');
  } catch (e) {
    reportError(e);
  }
}

/** Downloads the run's report: settings, summary, per-epoch metrics and the inverted trigger. */
export function downloadReport(): void {
  const s = store.getState();
  if (!s.run) return;
  const report = {
    generatedBy: 'MCLDef Playground',
    date: new Date().toISOString(),
    model: s.card,
    settings: s.settings,
    backend: s.backend,
    summary: s.run.summary,
    before: s.run.before,
    after: s.run.after,
    epochs: s.run.train.epochs,
    detection: s.run.detection.report,
    invertedTrigger: s.run.inversion.result && { ...s.run.inversion.result, mask: Array.from(s.run.inversion.result.mask), pattern: Array.from(s.run.inversion.result.pattern) },
    ftComparison: s.ftSummary,
  };
  download('mcldef-report.json', JSON.stringify(report, null, 2), 'application/json');
}

/** Downloads a chart (an SVG inside `container`) as PNG. */
export async function downloadChart(container: HTMLElement | null, name: string): Promise<void> {
  const svg = container?.querySelector('svg');
  if (!svg) return reportError(new Error('no chart to save yet'));
  const { width, height } = svg.getBoundingClientRect();
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(xml)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(width * 2);
  canvas.height = Math.ceil(height * 2);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  canvas.toBlob((b) => b && download(`${name}.png`, b, 'image/png'));
}

/** Downloads the purified model as a PyTorch state_dict: safetensors, or a torch.save zip (.pth). */
export async function downloadWeights(format: 'safetensors' | 'pth'): Promise<void> {
  try {
    const { name, bytes } = await engine().call('exportWeights', { format });
    download(name, bytes, 'application/octet-stream');
  } catch (e) {
    reportError(e);
  }
}
