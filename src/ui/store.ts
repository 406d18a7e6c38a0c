/**
 * The page's state: one framework-free store (subscribe / getState / set) with a thin React hook on top, so
 * panels re-render only for the slice they read.
 */
import { useSyncExternalStore } from 'react';
import type { BackendReport } from '../platform/selectBackend';
import type { DefenseEvent, DefenseMethod, DefenseStage, DefenseSummary, DetectionReport, EvalPoint, InvertedTrigger, InversionSnapshotEvent, MergeFigure, TrainEpochEvent } from '../engine/defense';
import type { StagePlan } from '../engine/defense/plan';
import type { DataSummary, ModelCard, QuickEval, RunStatus, StripResult } from '../worker/protocol';
import { DEFAULT_SETTINGS, type Settings } from './settings';

/** A live defense run as the page shows it. */
export interface RunView {
  runId: number;
  method: DefenseMethod;
  status: RunStatus;
  stage: DefenseStage | null;
  stageLabel: string;
  /**
   * Progress of the current stage, folded from the engine's events: the stage's epoch budget as its 'start' event
   * gave it (detection: all classes together, over `stageClasses` classes), the epochs done so far (fractional
   * within an epoch), the classes done (detection), their ratio, and when the stage started (ms), for the ETA.
   */
  stageEpochs: number;
  stageClasses: number;
  stageDone: number;
  stageClassesDone: number;
  stageFraction: number;
  stageStartedAt: number;
  /** When the run started (ms), for the whole-run ETA. */
  startedAt: number;
  /** Time spent paused (ms) before the current pause, and when the current pause began (null: not paused). */
  pausedMs: number;
  pausedAt: number | null;
  /**
   * The engine's plan of the run's work ('plan' event), the entry of the stage in progress (-1 before the first;
   * entries passed over were skipped), and whether that entry has ended.
   */
  plan: StagePlan[] | null;
  planAt: number;
  planEnded: boolean;
  /** Plan entries the run passed over (e.g. stage 1 when a trigger was given). */
  planSkipped: number[];
  /** Per ended plan entry, the share of its budget it used (stage 1 may converge early; 1 for the others). */
  planUsed: Record<number, number>;
  cleanImages: number;
  /** Stage 1 as drawn: the loss curve of the class being inverted now (detection inverts one class after another). */
  inversion: { target: number | null; points: Array<{ step: number; loss: number; ce: number; l1: number; rate: number }>; snapshot: InversionSnapshotEvent | null; result: InvertedTrigger | null };
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
  /** 'ready' once the engine runs and the default model and data have loaded: controls that load stay off until then. */
  phase: 'starting' | 'ready' | 'failed';
  backend: BackendReport | null;
  engineMode: 'worker' | 'main-thread' | null;
  engineNote: string;
  card: ModelCard | null;
  clean: DataSummary | null;
  evalData: DataSummary | null;
  stripBefore: StripResult | null;
  stripAfter: StripResult | null;
  /** The live check of the loaded model, on the images a run with the current seed and size measures on. */
  evalBefore: QuickEval | null;
  /** True while evalBefore is the first look on a few images and the whole result set is being measured. */
  evalRefining: boolean;
  /** Messages for the person using the page: what went wrong and what to do. */
  errors: Array<{ id: number; message: string; hint?: string }>;
  busy: string | null;
  settings: Settings;
  run: RunView | null;
  /** FT run with the same settings, for the side-by-side comparison. */
  ftSummary: DefenseSummary | null;
  /** Tensors held by the engine after the last reset (for the memory check). */
  memory: { numTensors: number; numBytes: number } | null;
  /** The attacks the upload form offers (from the engine). */
  attacks: Array<{ name: string; title: string }>;
  /** The built-in models (models/index.json). */
  zoo: Array<{ name: string; title: string }>;
  /** An image import in progress. */
  importProgress: { done: number; total: number } | null;
  /** The offline copy (service worker): 'offline-ready' once this page opens without the network, 'new-version' when a deploy waits. */
  offline: 'none' | 'offline-ready' | 'new-version';
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
  evalRefining: false,
  errors: [],
  busy: null,
  settings: DEFAULT_SETTINGS,
  run: null,
  ftSummary: null,
  memory: null,
  attacks: [],
  zoo: [],
  importProgress: null,
  offline: 'none',
};

/** Keeps a live series bounded: past `max` points, every other one is dropped before appending. */
function append<T>(xs: T[], x: T, max = 4000): T[] {
  return [...(xs.length > max ? xs.filter((_, i) => i % 2 === 0) : xs), x];
}

function withDone(r: RunView, done: number): void {
  r.stageDone = done;
  r.stageFraction = r.stageEpochs > 0 ? Math.min(1, done / r.stageEpochs) : 0;
}

/**
 * Folds one engine event into the run view. Pure: everything it shows comes from the events (a stage's budget from
 * its 'start' event), none of it from the settings; the controller batches calls at the refresh rate.
 */
export function applyEvent(run: RunView, e: DefenseEvent, now: number): RunView {
  const r = { ...run };
  switch (e.type) {
    case 'plan':
      r.plan = e.stages;
      break;
    case 'stage':
      if (e.phase === 'start') {
        Object.assign(r, { stage: e.stage, stageLabel: e.label, stageEpochs: e.epochs ?? 0, stageClasses: e.classes ?? 1, stageClassesDone: 0, stageStartedAt: now });
        withDone(r, 0);
        const next = r.plan ? r.plan.findIndex((p, j) => j > r.planAt && p.stage === e.stage) : -1;
        if (next >= 0) {
          for (let j = r.planAt + 1; j < next; j++) r.planSkipped = [...r.planSkipped, j];
          r.planAt = next;
        }
        r.planEnded = false;
      } else {
        r.planEnded = true;
        if (r.planAt >= 0) r.planUsed = { ...r.planUsed, [r.planAt]: r.stageEpochs > 0 ? r.stageFraction : 1 };
      }
      break;
    case 'inversion-step': {
      // A new class (detection moves on, or the target's own inversion follows detection) starts a new curve.
      const points = r.inversion.target === e.target ? r.inversion.points : [];
      r.inversion = { ...r.inversion, target: e.target, points: append(points, { step: e.step, loss: e.loss, ce: e.ce, l1: e.maskL1, rate: e.attackRate }) };
      break;
    }
    case 'inversion-epoch':
      withDone(r, r.stageClassesDone * (r.stageEpochs / Math.max(1, r.stageClasses)) + e.epoch + 1);
      break;
    case 'inversion-snapshot':
      r.inversion = { ...r.inversion, snapshot: e };
      break;
    case 'inversion-result':
      r.inversion = { ...r.inversion, result: e };
      break;
    case 'detection-class':
      r.detection = { ...r.detection, perClass: [...r.detection.perClass, { cls: e.cls, l1: e.maskL1, rate: e.attackRate }] };
      // A class that stopped early (patience) leaves the rest of its budget unused: progress moves to its end.
      r.stageClassesDone = e.done;
      withDone(r, e.done * (r.stageEpochs / Math.max(1, r.stageClasses)));
      break;
    case 'detection-result':
      r.detection = { ...r.detection, report: e };
      break;
    case 'purify-step':
      r.train = { ...r.train, steps: append(r.train.steps, { i: e.epoch * e.stepsPerEpoch + e.step, loss: e.loss, stage: e.stage }) };
      withDone(r, e.epoch + e.step / Math.max(1, e.stepsPerEpoch));
      break;
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

/** The run with a new status; a pause's length is counted (the ETA leaves paused time out). */
export function withStatus(run: RunView, status: RunStatus, now: number): RunView {
  const pausedMs = run.pausedAt !== null && status !== 'paused' ? run.pausedMs + (now - run.pausedAt) : run.pausedMs;
  const pausedAt = status === 'paused' ? (run.pausedAt ?? now) : null;
  return { ...run, status, pausedMs, pausedAt };
}

/** Milliseconds the run has been running (not paused) at `now`. */
export function activeMs(run: RunView, now: number): number {
  return now - run.startedAt - run.pausedMs - (run.pausedAt !== null ? now - run.pausedAt : 0);
}

/** An empty run view; `notices` are what the engine said when it accepted the run (e.g. about the clean data). */
export function newRun(runId: number, method: DefenseMethod, cleanImages: number, now = Date.now(), notices: string[] = []): RunView {
  return {
    runId, method, status: 'running', stage: null, stageLabel: 'Starting', stageEpochs: 0, stageClasses: 1, stageDone: 0, stageClassesDone: 0, stageFraction: 0,
    stageStartedAt: now, startedAt: now, pausedMs: 0, pausedAt: null, plan: null, planAt: -1, planEnded: false, planSkipped: [], planUsed: {}, cleanImages,
    inversion: { target: null, points: [], snapshot: null, result: null }, detection: { perClass: [], report: null },
    train: { steps: [], epochs: [] }, probe: null, before: null, after: null, summary: null, message: '', notices,
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
