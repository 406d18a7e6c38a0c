/**
 * What the page does, as plain async functions over the store and the engine client: boot (backend, default
 * model, demo data), model uploads. Components call these; none of them talks to the worker directly.
 */
import type { BackendName } from '../platform/selectBackend';
import { EngineClient } from '../worker/client';
import { EngineError } from '../worker/protocol';
import { resultEvalSize } from './settings';
import { reportError, store } from './store';

let client: EngineClient | null = null;

/** The engine client (after boot). */
export function engine(): EngineClient {
  if (!client) throw new Error('the engine has not started');
  return client;
}

/** Resolves a path against the page's own location, so the site works under any path. */
export function siteUrl(path: string): string {
  return new URL(path, document.baseURI).href;
}

interface ZooIndex {
  default: string;
  models: Array<{ name: string; title: string; path: string }>;
}

/** Starts the engine, picks the backend (?backend= forces one), loads the default model and the demo data. */
export async function boot(): Promise<void> {
  try {
    client = await EngineClient.create();
    const forced = new URLSearchParams(location.search).get('backend') as BackendName | null;
    const backend = await client.call('init', { backend: forced || undefined });
    // Read after init: a worker that failed while loading has handed over to the main thread by now.
    store.set({ engineMode: client.mode, engineNote: client.fallbackReason });
    // A small hook for tests and the curious: the engine's tensor count.
    (window as unknown as { __mcldef: object }).__mcldef = {
      memory: () => engine().call('memory', {}),
      predict: (indices: number[], which: 'current' | 'original' = 'original') => engine().call('predict', { which, indices }),
    };
    store.set({ backend, attacks: await client.call('attacks', {}) });
  } catch (e) {
    store.set({ phase: 'failed' });
    reportError(e, 'This browser could not start any TensorFlow.js backend. Try a current Chrome, Edge or Firefox.');
    return;
  }
  // Uploads stay off until the default model is in: one loaded meanwhile would be replaced by it.
  await Promise.all([loadDemoData(), loadZooModel(undefined, false)]);
  store.set({ phase: 'ready' });
  await refreshBefore();
}

/** Loads the shipped demo data: the 5% clean split and the 1,000-image evaluation subset. */
export async function loadDemoData(): Promise<void> {
  try {
    store.set({ busy: 'Loading the demo images' });
    const [clean, evalData] = await Promise.all([
      engine().call('loadData', { role: 'clean', source: { kind: 'url', url: siteUrl('data/clean-5pct.mcld') } }),
      engine().call('loadData', { role: 'eval', source: { kind: 'url', url: siteUrl('data/test-1k.mcld') } }),
    ]);
    store.set({ clean, evalData });
  } catch (e) {
    reportError(e, 'The demo data could not be loaded; reload the page, or upload your own clean images.');
  } finally {
    store.set({ busy: null });
  }
}

/** Loads a zoo model by name (default: the index's default), then (unless `refresh` is false) its live evaluation. */
export async function loadZooModel(name?: string, refresh = true): Promise<void> {
  try {
    store.set({ busy: 'Loading the model' });
    const res = await fetch(siteUrl('models/index.json'));
    let index: ZooIndex;
    try {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      index = (await res.json()) as ZooIndex;
    } catch (e) {
      throw new Error(`the list of built-in models (models/index.json) is missing or unreadable (${(e as Error).message})`);
    }
    const pick = name ?? index.default;
    const entry = index.models.find((m) => m.name === pick);
    if (!entry) throw new Error(`model "${pick}" is not in models/index.json`);
    store.set({ zoo: index.models.map((m) => ({ name: m.name, title: m.title })) });
    const hadOther = store.getState().card?.source === 'upload';
    const card = await engine().call('loadModel', {
      source: { kind: 'url', modelUrl: siteUrl(`${entry.path}model.json`), manifestUrl: siteUrl(`${entry.path}manifest.json`) },
    });
    store.set({ card, stripBefore: null, stripAfter: null, evalBefore: null, run: null, ftSummary: null });
    // After an uploaded model of another shape the engine dropped the demo data: bring it back.
    if (hadOther) await loadDemoData();
    if (refresh) await refreshBefore();
  } catch (e) {
    reportError(e, 'The built-in model could not be loaded. Build it with `npm run zoo:export -- badnets`, or upload a model.');
  } finally {
    store.set({ busy: null });
  }
}

/** Images of the live check's first look (the whole result set follows). */
const LIVE_PREVIEW = 200;

/** Recomputes the "before" strip and live evaluation for the loaded model. */
export async function refreshBefore(): Promise<void> {
  const s = store.getState();
  if (!s.card || !s.evalData) return;
  try {
    store.set({ busy: 'Evaluating the model' });
    const stripBefore = await engine().call('strip', { perClass: 1, which: 'original' });
    store.set({ stripBefore });
    // A first look on a few images within seconds of the page opening, then the set a run reports on.
    const size = resultEvalSize(s.settings);
    const seed = s.settings.seed;
    if (size === 0 || size > LIVE_PREVIEW) {
      store.set({ evalBefore: await engine().call('evaluate', { which: 'original', limit: LIVE_PREVIEW, seed }), evalRefining: true });
    }
    store.set({ evalBefore: await engine().call('evaluate', { which: 'original', limit: size, seed }), evalRefining: false });
  } catch (e) {
    store.set({ evalRefining: false });
    // A run that started meanwhile stopped the live check: the run measures the same images itself.
    if (e instanceof EngineError && e.code === 'run-started') return;
    reportError(e);
  } finally {
    store.set({ busy: null });
  }
}
