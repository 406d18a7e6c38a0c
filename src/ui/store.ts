/**
 * The page's state: one framework-free store (subscribe / getState / set) with a thin React hook on top, so
 * panels re-render only for the slice they read.
 */
import { useSyncExternalStore } from 'react';
import type { BackendReport } from '../platform/selectBackend';
import type { DefenseEvent, DefenseMethod, DefenseStage, DefenseSummary, DetectionReport, EvalPoint, InvertedTrigger, InversionSnapshotEvent, MergeFigure, TrainEpochEvent } from '../engine/defense';
import type { DataSummary, ModelCard, QuickEval, RunStatus, StripResult } from '../worker/protocol';
import { DEFAULT_SETTINGS, type Settings } from './settings';

/** A live defense run as the page shows it. */
export interface RunView {
  runId: number;
  method: DefenseMethod;
  status: RunStatus;
  stage: DefenseStage | null;
  stageLabel: string;
  /** Fraction of the current stage done, and when the stage started (ms), for the ETA. */
  stageFraction: number;
  stageStartedAt: number;
  cleanImages: number;
  inversion: { points: Array<{ step: number; loss: number; ce: number; l1: number; rate: number }>; snapshot: InversionSnapshotEvent | null; result: InvertedTrigger | null };
  detection: { perClass: Array<{ cls: number; l1: number; rate: number }>; report: DetectionReport | null };
  train: { steps: Array<{ i: number; loss: number; stage: DefenseStage }>; epochs: TrainEpochEvent[] };
  probe: { labels: Int32Array; triggered: Uint8Array; epoch: number; embedding: Float64Array | null; stage: DefenseStage; merge: MergeFigure | null } | null;
  before: EvalPoint | null;
  after: EvalPoint | null;
  summary: DefenseSummary | null;
  message: string;
  notices: string[];
}

/** Everything the page shows. */
export interface AppState {
  phase: 'starting' | 'ready' | 'failed';
  backend: BackendReport | null;
  engineMode: 'worker' | 'main-thread' | null;
  engineNote: string;
  card: ModelCard | null;
  clean: DataSummary | null;
  evalData: DataSummary | null;
  stripBefore: StripResult | null;
  stripAfter: StripResult | null;
  evalBefore: QuickEval | null;
  evalAfter: QuickEval | null;
  /** Messages for the person using the page: what went wrong and what to do. */
  errors: Array<{ id: number; message: string; hint?: string }>;
  busy: string | null;
  settings: Settings;
  run: RunView | null;
  /** FT run with the same settings, for the side-by-side comparison. */
  ftSummary: DefenseSummary | null;
  /** Tensors held by the engine after the last reset (for the memory check). */
  memory: { numTensors: number; numBytes: number } | null;
  /** The built-in models (models/index.json). */
  zoo: Array<{ name: string; title: string }>;
  /** An image import in progress. */
  importProgress: { done: number; total: number } | null;
}

const initial: AppState = {
  phase: 'starting',
  backend: null,
  engineMode: null,
  engineNote: '',
  card: null,
  clean: null,
  evalData: null,
  stripBefore: null,
  stripAfter: null,
  evalBefore: null,
  evalAfter: null,
  errors: [],
  busy: null,
  settings: DEFAULT_SETTINGS,
  run: null,
  ftSummary: null,
  memory: null,
  zoo: [],
  importProgress: null,
};

/** Folds one engine event into the run view (pure; the controller batches calls at the refresh rate). */
export function applyEvent(run: RunView, e: DefenseEvent, now: number): RunView {
  const r = { ...run };
  switch (e.type) {
    case 'stage':
      if (e.phase === 'start') Object.assign(r, { stage: e.stage, stageLabel: e.label, stageFraction: 0, stageStartedAt: now });
      break;
    case 'inversion-step': {
      const points = r.inversion.points.length > 4000 ? r.inversion.points.filter((_, i) => i % 2 === 0) : r.inversion.points;
      r.inversion = { ...r.inversion, points: [...points, { step: e.step, loss: e.loss, ce: e.ce, l1: e.maskL1, rate: e.attackRate }] };
      break;
    }
    case 'inversion-epoch':
      r.stageFraction = (e.epoch + 1) / Math.max(1, store.getState().settings.invEpochs);
      break;
    case 'inversion-snapshot':
      r.inversion = { ...r.inversion, snapshot: e };
      break;
    case 'inversion-result':
      r.inversion = { ...r.inversion, result: e };
      break;
    case 'detection-class':
      r.detection = { ...r.detection, perClass: [...r.detection.perClass, { cls: e.cls, l1: e.maskL1, rate: e.attackRate }] };
      r.stageFraction = e.done / e.total;
      break;
    case 'detection-result':
      r.detection = { ...r.detection, report: e };
      break;
    case 'purify-step': {
      const steps = r.train.steps.length > 4000 ? r.train.steps.filter((_, i) => i % 2 === 0) : r.train.steps;
      r.train = { ...r.train, steps: [...steps, { i: e.epoch * e.stepsPerEpoch + e.step, loss: e.loss, stage: e.stage }] };
      const epochs = e.stage === 'correct' ? 10 : Math.max(1, store.getState().settings.epochs);
      r.stageFraction = (e.epoch * e.stepsPerEpoch + e.step) / (epochs * e.stepsPerEpoch);
      break;
    }
    case 'purify-epoch':
      r.train = { ...r.train, epochs: [...r.train.epochs, e] };
      break;
    case 'probe-features':
      r.probe = { labels: e.labels, triggered: e.triggered, epoch: e.epoch, embedding: r.probe?.labels.length === e.labels.length ? r.probe.embedding : null, stage: e.stage, merge: e.merge };
      break;
    case 'evaluation':
      if (e.when === 'before') r.before = e;
      else r.after = e;
      break;
    case 'notice':
      r.notices = [...r.notices, e.message];
      break;
    case 'done':
      r.summary = e.summary;
      break;
  }
  return r;
}

/** An empty run view. */
export function newRun(runId: number, method: DefenseMethod, cleanImages: number): RunView {
  return {
    runId, method, status: 'running', stage: null, stageLabel: 'Starting', stageFraction: 0, stageStartedAt: Date.now(), cleanImages,
    inversion: { points: [], snapshot: null, result: null }, detection: { perClass: [], report: null },
    train: { steps: [], epochs: [] }, probe: null, before: null, after: null, summary: null, message: '', notices: [],
  };
}

type Listener = () => void;

/** A minimal external store. */
export class Store<S> {
  private listeners = new Set<Listener>();
  constructor(private state: S) {}
  getState = (): S => this.state;
  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  set(patch: Partial<S> | ((s: S) => Partial<S>)): void {
    const p = typeof patch === 'function' ? patch(this.state) : patch;
    this.state = { ...this.state, ...p };
    for (const l of this.listeners) l();
  }
}

/** The page's one store. */
export const store = new Store<AppState>(initial);

let errorId = 0;

/** Shows an error in the page (never only in the console). */
export function reportError(e: unknown, hint?: string): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(e);
  store.set((s) => ({ errors: [...s.errors, { id: ++errorId, message, hint }] }));
}

/** Removes a shown error. */
export function dismissError(id: number): void {
  store.set((s) => ({ errors: s.errors.filter((e) => e.id !== id) }));
}

/** Subscribes a component to one slice of the state. */
export function useStore<T>(select: (s: AppState) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}
