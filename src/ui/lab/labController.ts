/**
 * What the attack lab does: plant the drawn (or a shipped) trigger into the clean built-in model in the engine
 * worker, follow its events, make the planted model the page's model, "Defend it" with the page's defense, and
 * keep the scoreboard (a row per planting, filled in when a defense on it finishes). Components call these.
 */
import type { WorkerPush } from '../../worker/protocol';
import { engine, loadZooModel, refreshBefore, siteUrl } from '../controller';
import { download } from '../downloads';
import { startRun } from '../runController';
import { reportError, store } from '../store';
import { foldPlant, labStore, newPlant } from './labStore';
import { saveScores, type ScoreRow, scoresCsv, withDefense } from './scoreboard';
import { coveredPixels, encodeTrigger } from './trigger';

/** The attacker's training images: 250 per class of CIFAR-10 train, disjoint from the defender's 5% (data:demo). */
export const ATTACKER_DATA = 'data/attacker-5pct.mcld';
/** Images of the evaluation set the planting measures every few steps. */
const LAB_EVAL_SIZE = 200;
/** The built-in model planting starts from. */
const BASE_MODEL = 'clean';

let unsubscribe: (() => void) | null = null;
let watching = false;

function storage(): Storage | null {
  return globalThis.localStorage ?? null;
}

/** The trigger's name on the model card and the scoreboard. */
function triggerTitle(): string {
  const s = labStore.getState();
  return s.source === 'drawn' ? `your trigger (${coveredPixels(s.trigger)} px)` : s.source === 'cl' ? 'CL grid' : s.source === 'badnets' ? 'BadNets' : s.source === 'blend' ? 'Blend' : 'SIG';
}

function onMessage(m: WorkerPush): void {
  if (m.type !== 'plant-event' && m.type !== 'plant-end') return;
  const p = labStore.getState().plant;
  if (!p || p.runId !== m.runId) return;
  if (m.type === 'plant-event') {
    labStore.set({ plant: foldPlant(p, m.event) });
    return;
  }
  labStore.set({ plant: { ...p, status: m.status, message: m.message ?? '' } });
  if (m.status === 'failed') reportError(new Error(m.message ?? 'planting failed'), 'Check the trigger, the target class and the poisoning rate.');
  if (m.status === 'done' && m.card) void adopted(m.card, p.summary ?? m.summary ?? null);
}

async function adopted(card: NonNullable<Extract<WorkerPush, { type: 'plant-end' }>['card']>, summary: import('../../engine/attacks/plantConfig').PlantSummary | null): Promise<void> {
  const s = labStore.getState();
  store.set({ card, stripBefore: null, stripAfter: null, evalBefore: null, run: null, ftSummary: null });
  if (summary) {
    const row: ScoreRow = {
      id: Date.now(),
      date: new Date().toISOString(),
      trigger: triggerTitle(),
      code: s.source === 'drawn' ? encodeTrigger(s.trigger) : s.source,
      target: summary.config.target,
      rate: summary.config.rate,
      steps: summary.steps,
      plantedAsr: summary.after.asr,
      plantedBa: summary.after.ba,
      defense: null,
      defendedAsr: null,
      defendedBa: null,
    };
    const scores = [...s.scores, row];
    saveScores(storage(), scores);
    labStore.set({ scores });
  }
  await refreshBefore();
}

/** Keeps the scoreboard's newest waiting row up to date with the defense run on the planted model. */
function watchDefense(): void {
  if (watching) return;
  watching = true;
  let lastRun = -1;
  store.subscribe(() => {
    const { run, card } = store.getState();
    if (!run || run.status !== 'done' || run.runId === lastRun || !run.after || card?.name !== 'planted') return;
    lastRun = run.runId;
    const scores = withDefense(labStore.getState().scores, run.method, run.after.asrTrue, run.after.ba);
    saveScores(storage(), scores);
    labStore.set({ scores });
  });
}

/** Plants the lab's trigger into the clean built-in model (loaded first when the page holds another). */
export async function plant(): Promise<void> {
  const s = labStore.getState();
  try {
    unsubscribe ??= engine().onMessage(onMessage);
    watchDefense();
    if (store.getState().card?.name !== BASE_MODEL) await loadZooModel(BASE_MODEL, false);
    const trigger = s.source === 'drawn' ? { kind: 'rgba' as const, rgba: s.trigger.slice(), height: 32, width: 32 } : { kind: 'named' as const, name: s.source };
    const seed = store.getState().settings.seed;
    const { runId } = await engine().call('plant', {
      trigger,
      data: { kind: 'url', url: siteUrl(ATTACKER_DATA) },
      config: { target: s.target, rate: s.rate, steps: s.steps, evalEvery: Math.max(5, Math.round(s.steps / 6)), evalSize: LAB_EVAL_SIZE, seed },
      title: triggerTitle(),
    });
    labStore.set({ plant: newPlant(runId) });
    // A small trigger travels in the page address, so a link shares it.
    const code = s.source === 'drawn' ? encodeTrigger(s.trigger) : null;
    const q = new URLSearchParams(location.search);
    if (code) q.set('trigger', code);
    else q.delete('trigger');
    history.replaceState(null, '', `${location.pathname}?${q.toString()}${location.hash}`);
  } catch (e) {
    reportError(e, 'The backdoor could not be planted.');
  }
}

/** Pause, resume or cancel the planting. */
export async function controlPlant(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
  try {
    const { status } = await engine().call('plantControl', { action });
    const p = labStore.getState().plant;
    if (p && action !== 'cancel') labStore.set({ plant: { ...p, status } });
  } catch (e) {
    reportError(e);
  }
}

/** Runs the page's defense (its current settings) on the planted model. */
export async function defendIt(): Promise<void> {
  watchDefense();
  await startRun();
}

/** Downloads the scoreboard as CSV. */
export function downloadScores(): void {
  download('attack-lab-scoreboard.csv', scoresCsv(labStore.getState().scores), 'text/csv');
}

/** Clears the scoreboard. */
export function clearScores(): void {
  saveScores(storage(), []);
  labStore.set({ scores: [] });
}

/** Downloads the drawn trigger as a 32x32 RGBA PNG (the CLI's `attack --trigger FILE.png` reads it). */
export function downloadTriggerPng(): void {
  const rgba = labStore.getState().trigger;
  const canvas = document.createElement('canvas');
  canvas.width = 32;
  canvas.height = 32;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), 32, 32), 0, 0);
  canvas.toBlob((b) => b && download('trigger.png', b, 'image/png'));
}
