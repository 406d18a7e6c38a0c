/**
 * The typed boundary between the page and the engine worker. Plain data and transferable buffers only, never
 * tensors. Requests carry an id and get exactly one `result` or `error` reply; besides replies the engine pushes
 * the messages of {@link WorkerPush} (a running defense's events, import progress).
 */
import type { PlantConfigInput, PlantEvent, PlantSummary } from '../engine/attacks/plantConfig';
import type { DefenseConfigInput, DefenseEvent } from '../engine/defense';
import type { BackendName, BackendReport } from '../platform/selectBackend';

/** A model to load: by URL (the zoo) or from files the user picked (model.json + shards, or a .safetensors). */
export type ModelSource =
  | { kind: 'url'; modelUrl: string; manifestUrl?: string }
  | { kind: 'files'; files: Array<{ name: string; bytes: ArrayBuffer }>; options?: UploadOptions };

/** Input normalization and class names for an uploaded PyTorch state_dict (CIFAR-10 defaults). */
export interface UploadOptions {
  mean?: number[];
  std?: number[];
  classNames?: string[];
  /** The backdoor's target class, when the uploader knows it (else detection finds it). */
  target?: number;
  /** The attack the model carries, when known (an attack name of the engine), to measure the true ASR. */
  attack?: string;
}

/**
 * A data set to load: an MCLDSET1 shard by URL or as bytes, or image files (a picked folder with relative paths,
 * loose images with a labels.csv, or .zip archives of either), resized to the model's input.
 */
export type DataSource =
  | { kind: 'url'; url: string }
  | { kind: 'bytes'; name: string; bytes: ArrayBuffer }
  | { kind: 'files'; files: Array<{ name: string; bytes: ArrayBuffer }> };

/** What the page shows about the loaded model. */
export interface ModelCard {
  name: string;
  /** Where it came from: a built-in zoo model or the user's files. */
  source: 'zoo' | 'upload';
  /** Architecture and format as detected, e.g. "WRN-16-1, 10 classes, 0.18 M parameters (PyTorch zip checkpoint ...)". */
  description: string;
  title: string;
  /** The architecture's name as the engine built it, e.g. "WRN-16-1", "PreAct-ResNet-18" (a TF.js model's own name otherwise). */
  arch: string;
  params: number;
  inputShape: number[];
  numClasses: number;
  classNames: string[];
  backdoored: boolean;
  attack: { name: string; title?: string; description?: string; trigger?: string } | null;
  target: number | null;
  /** BA/ASR claimed by the manifest (full test set), if any. */
  claimed: { ba: number; asr: number; n: number } | null;
}

/** Summary of a loaded data set. */
export interface DataSummary {
  role: 'clean' | 'eval';
  n: number;
  height: number;
  width: number;
  classNames: string[];
  counts: number[];
  /** Where the images came from, for display ("demo: 5% of CIFAR-10", "3 files", ...). */
  label: string;
  /** Things the user should know (skipped files, imbalance, missing classes). */
  warnings: string[];
}

/** Pushed while a long load (an image import) runs. */
export interface ProgressMessage {
  type: 'progress';
  task: 'import';
  done: number;
  total: number;
}

/** Predictions on a strip of images, clean and triggered with the true attack. */
export interface StripResult {
  /** RGBA pixels [k, H, W, 4] of the clean and triggered images. */
  clean: Uint8ClampedArray;
  triggered: Uint8ClampedArray;
  height: number;
  width: number;
  labels: number[];
  cleanPred: number[];
  triggeredPred: number[];
}

/**
 * Live evaluation of a model on the evaluation subset a run with the same seed and size measures on (one set for
 * the model card and the run's before/after).
 */
export interface QuickEval {
  ba: number;
  /** ASR with the true attack against `target`; null when the attack or the target is unknown. */
  asr: number | null;
  /** The class the ASR counts (the stated target, else the one a run detected), or null while unknown. */
  target: number | null;
  n: number;
  nAsr: number;
  /** Accuracy per class on the same images. */
  perClass: number[];
}

/** Requests, keyed by type: [payload, result]. */
export interface Rpc {
  init: [{ backend?: BackendName }, BackendReport];
  loadModel: [{ source: ModelSource }, ModelCard];
  loadData: [{ role: 'clean' | 'eval'; source: DataSource }, DataSummary];
  strip: [{ perClass: number; which: 'current' | 'original' }, StripResult];
  /** `limit` images (0: all) drawn with `seed` as a run draws them. */
  evaluate: [{ which: 'current' | 'original'; limit: number; seed: number }, QuickEval];
  memory: [Record<string, never>, { numTensors: number; numBytes: number }];
  /** Argmax predictions of a model on chosen evaluation images (tests and the curious compare them to PyTorch). */
  predict: [{ which: 'current' | 'original'; indices: number[] }, number[]];
  /** Starts a defense run; returns at once, events follow as 'run-event' messages, then one 'run-end'. */
  start: [StartRequest, { runId: number; cleanImages: number; evalImages: number; warnings: string[] }];
  control: [{ action: 'pause' | 'resume' | 'step' | 'cancel' }, { status: RunStatus }];
  /** Forgets the purified model (the page goes back to the original). */
  reset: [Record<string, never>, { numTensors: number }];
  /** The purified model as TF.js LayersModel files. */
  exportModel: [Record<string, never>, { modelJson: string; weights: ArrayBuffer }];
  /** The purified model as a PyTorch state_dict file (safetensors, or a torch.save zip .pth). */
  exportWeights: [{ format: 'safetensors' | 'pth' }, { name: string; bytes: ArrayBuffer }];
  /** The attacks an uploaded model can be said to carry (name and title), for the upload form. */
  attacks: [Record<string, never>, Array<{ name: string; title: string }>];
  /** Stops an image import in progress (its loadData call then fails with 'cancelled'; the old data stays). */
  cancelLoad: [Record<string, never>, { cancelled: boolean }];
  /**
   * Attack lab: plants a backdoor into the page's original model; returns at once, events follow as 'plant-event'
   * messages, then one 'plant-end' (with the planted model, now the page's model, described on 'done').
   */
  plant: [PlantRequest, { runId: number }];
  plantControl: [{ action: 'pause' | 'resume' | 'cancel' }, { status: RunStatus }];
}

/** The attack lab's trigger: drawn (RGBA, alpha is the mask) or a shipped attack's. */
export type PlantTrigger =
  | { kind: 'rgba'; rgba: Uint8Array; height: number; width: number }
  | { kind: 'named'; name: 'badnets' | 'blend' | 'sig' | 'cl' };

/** What the attack lab asks to plant. */
export interface PlantRequest {
  trigger: PlantTrigger;
  /** The attacker's training images (the page: public/data/attacker-5pct.mcld). */
  data: DataSource & { kind: 'url' | 'bytes' };
  config: PlantConfigInput;
  /** The trigger's name on the model card ("your trigger", "BadNets"). */
  title: string;
}

/** Pushed while a planting runs. */
export interface PlantEventMessage {
  type: 'plant-event';
  runId: number;
  event: PlantEvent;
}

/** Pushed once when a planting ends; on 'done' the planted model is the page's model, described by `card`. */
export interface PlantEndMessage {
  type: 'plant-end';
  runId: number;
  status: 'done' | 'cancelled' | 'failed';
  message?: string;
  card?: ModelCard;
  summary?: PlantSummary;
}

/** What the page asks to run. */
export interface StartRequest {
  config: DefenseConfigInput;
  /** Share of the training set used as clean data, in percent (the demo ships 5%; smaller shares subsample it). */
  cleanPercent: number;
  /** Cap on clean images (0: none), for quick demos and tests. */
  cleanLimit: number;
}

/** State of a defense run. */
export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

/** Pushed while a run is in progress. */
export interface RunEventMessage {
  type: 'run-event';
  runId: number;
  event: DefenseEvent;
}

/** Pushed once when a run ends (a finished run's summary came just before, in its 'done' event). */
export interface RunEndMessage {
  type: 'run-end';
  runId: number;
  status: 'done' | 'cancelled' | 'failed';
  message?: string;
}

/** Pushed by the worker once its module has loaded (a worker that fails before this is replaced by the main thread). */
export interface WorkerReadyMessage {
  type: 'worker-ready';
}

/** Everything the engine pushes besides replies. */
export type WorkerPush = RunEventMessage | RunEndMessage | ProgressMessage | WorkerReadyMessage | PlantEventMessage | PlantEndMessage;

export type RpcName = keyof Rpc;

/** Page -> worker. */
export type WorkerRequest = { [K in RpcName]: { id: number; type: K; payload: Rpc[K][0] } }[RpcName];

/**
 * Failures the page acts on rather than only shows, by code instead of by message:
 * 'run-started': a live check stopped because a defense run started (the run measures the same images itself).
 */
export type EngineErrorCode = 'run-started';

/** An engine error with a code; it crosses the worker boundary as the reply's `code` and is rebuilt by the client. */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly code: EngineErrorCode,
  ) {
    super(message);
  }
}

/** Worker -> page: the reply to a request. */
export type WorkerResponse =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; message: string; code?: EngineErrorCode };

/** Worker -> page: every message. */
export type WorkerMessage = WorkerResponse | WorkerPush;
