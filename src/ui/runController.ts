/**
 * Running the defense from the page: start, pause / resume / step / cancel, reset, FT side by side. Engine events
 * are buffered and folded into the store at the chosen refresh rate; probe features go on to the live t-SNE
 * (liveTsne.ts). Downloads are in downloads.ts.
 */
import type { DefenseEvent, DefenseMethod, DefenseSummary } from '../engine/defense';
import type { WorkerPush } from '../worker/protocol';
import { engine, refreshBefore } from './controller';
import { toStartRequest } from './settings';
import { applyEvent, newRun, reportError, store, withStatus } from './store';
import { embedProbe } from './liveTsne';

let queue: DefenseEvent[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;
let unsubscribe: (() => void) | null = null;
let pendingFt = false;

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
