/**
 * The attack lab's state: the trigger being drawn, the planting settings, a planting's progress folded from the
 * engine's events ({@link foldPlant}: pure, like the defense's applyEvent), and the scoreboard. Its own small
 * store beside the page's (the same Store class), so the lab adds no fields to the defense's state.
 */
import { useSyncExternalStore } from 'react';
import type { PlantEvent, PlantPlanEvent, PlantPoisonedEvent, PlantSummary } from '../../engine/attacks/plantConfig';
import type { RunStatus } from '../../worker/protocol';
import { Store } from '../store';
import { loadScores, type ScoreRow } from './scoreboard';
import { blankTrigger, decodeTrigger, stamp, type StampName } from './trigger';

/** Where the trigger comes from: drawn on the canvas, or a shipped attack's. */
export type LabSource = 'drawn' | 'badnets' | 'blend' | 'sig' | 'cl';
export const LAB_SOURCES: readonly LabSource[] = ['drawn', 'badnets', 'blend', 'sig', 'cl'];

/** The editor's tools. */
export type LabTool = 'pencil' | 'eraser' | StampName;

/** A planting as the page shows it. */
export interface PlantView {
  runId: number;
  status: RunStatus;
  plan: PlantPlanEvent | null;
  preview: PlantPoisonedEvent | null;
  /** BA / ASR on the evaluation subset, step 0 first. */
  points: Array<{ step: number; ba: number; asr: number }>;
  step: number;
  loss: number | null;
  summary: PlantSummary | null;
  message: string;
}

export interface LabState {
  /** [32 * 32 * 4] RGBA: alpha is the mask. */
  trigger: Uint8Array;
  source: LabSource;
  tool: LabTool;
  colour: string;
  /** 1-255: the alpha the pencil and the stamps paint with. */
  opacity: number;
  stampSize: number;
  target: number;
  rate: number;
  steps: number;
  plant: PlantView | null;
  scores: ScoreRow[];
}

/** The lab's default trigger: a 4x4 grid in the top-left corner (rows/cols 2-5), white and black. */
export function defaultTrigger(): Uint8Array {
  return stamp(blankTrigger(), 'grid', 2, 2, 4, [255, 255, 255], 255);
}

/** The lab's start: the trigger from the page address (?trigger=) when there is a valid one. */
export function initialLab(search = '', storage: Storage | null = null): LabState {
  let trigger = defaultTrigger();
  const code = new URLSearchParams(search).get('trigger');
  if (code) {
    try {
      trigger = decodeTrigger(code);
    } catch {
      // A damaged link falls back to the default trigger.
    }
  }
  return { trigger, source: 'drawn', tool: 'pencil', colour: '#ff0000', opacity: 255, stampSize: 4, target: 5, rate: 0.1, steps: 100, plant: null, scores: loadScores(storage) };
}

/** A fresh planting view. */
export function newPlant(runId: number): PlantView {
  return { runId, status: 'running', plan: null, preview: null, points: [], step: 0, loss: null, summary: null, message: '' };
}

/** Folds one engine event into the planting view (pure). */
export function foldPlant(p: PlantView, e: PlantEvent): PlantView {
  switch (e.type) {
    case 'plant-plan':
      return { ...p, plan: e };
    case 'plant-poisoned':
      return { ...p, preview: e };
    case 'plant-step':
      return { ...p, step: e.step, loss: e.loss };
    case 'plant-eval':
      return { ...p, points: [...p.points, { step: e.step, ba: e.ba, asr: e.asr }] };
    case 'plant-done':
      return { ...p, summary: e.summary };
    default:
      return p;
  }
}

export const labStore = new Store<LabState>(initialLab(globalThis.location?.search ?? '', globalThis.localStorage ?? null));

/** A slice of the lab's state, re-rendering only when it changes. */
export function useLab<T>(select: (s: LabState) => T): T {
  return useSyncExternalStore(
    (cb) => labStore.subscribe(cb),
    () => select(labStore.getState()),
    () => select(labStore.getState()),
  );
}
