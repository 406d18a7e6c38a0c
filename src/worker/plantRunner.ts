/**
 * The attack lab's engine side: plants a backdoor into the page's model (engine/attacks/plant.ts), forwards its
 * events, and implements pause (stop pulling), resume and cancel (abort signal, everything disposed), as
 * defenseRunner.ts does for the defense. The attacker's training images are loaded once and kept.
 */
import type * as tf from '@tensorflow/tfjs';
import { plantBackdoor, type PlantEvent, type PlantSummary } from '../engine/attacks/plant';
import { getAttack } from '../engine/attacks/registry';
import { rgbaAttack } from '../engine/attacks/rgba';
import type { Attack } from '../engine/attacks/types';
import { isAbortError } from '../engine/defense/control';
import type { Dataset } from '../engine/data/dataset';
import { decodeShard } from '../engine/data/shard';
import type { PlantEndMessage, PlantRequest, PlantTrigger, RunStatus } from './protocol';

/** The trigger of a request as an attack (a drawn RGBA trigger must not cover the whole image). */
export function triggerAttack(t: PlantTrigger, height: number, width: number): Attack {
  if (t.kind === 'named') return getAttack(t.name);
  if (t.height !== height || t.width !== width) throw new Error(`the trigger is ${t.width}x${t.height} but the model takes ${width}x${height} images`);
  return rgbaAttack(t.rgba, t.height, t.width, { refuseFullCover: true });
}

/** Loads the attacker's images of a request (a shard by URL or as bytes). */
export async function loadAttackerData(source: PlantRequest['data']): Promise<Dataset> {
  let bytes: ArrayBuffer;
  if (source.kind === 'url') {
    const res = await fetch(source.url);
    if (!res.ok) throw new Error(`could not download the attacker's images ${source.url}: HTTP ${res.status}`);
    bytes = await res.arrayBuffer();
  } else bytes = source.bytes;
  return decodeShard(bytes);
}

/** Takes over the planted model; resolves false when nobody wants it (the runner then disposes it). */
export type PlantFinish = (planted: tf.LayersModel, summary: PlantSummary) => Promise<boolean>;

/** One planting in progress. */
export class PlantRunner {
  status: RunStatus = 'running';
  private readonly abort = { aborted: false, reason: undefined as unknown };
  private wake: (() => void) | null = null;

  constructor(
    readonly runId: number,
    private readonly emit: (e: PlantEvent) => void,
    private readonly end: (m: PlantEndMessage) => void,
  ) {}

  /** Runs to the end (or cancel), hands the model to `finish`, then posts the end. */
  async run(config: PlantRequest['config'], deps: { model: tf.LayersModel; train: Dataset; evalSet: Dataset; attack: Attack }, finish: PlantFinish): Promise<void> {
    const gen = plantBackdoor(config, { ...deps, signal: this.abort, yieldEvery: 1 });
    try {
      for (;;) {
        while (this.status === 'paused' && !this.abort.aborted) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = null;
        }
        const r = await gen.next();
        if (r.done) {
          if (!(await finish(r.value.model, r.value.summary))) r.value.model.dispose();
          this.status = 'done';
          this.end({ type: 'plant-end', runId: this.runId, status: 'done' });
          return;
        }
        this.emit(r.value);
      }
    } catch (e) {
      await gen.return(undefined as never).catch(() => undefined);
      const cancelled = isAbortError(e);
      this.status = cancelled ? 'cancelled' : 'failed';
      this.end({ type: 'plant-end', runId: this.runId, status: this.status, message: cancelled ? 'cancelled' : e instanceof Error ? e.message : String(e) });
    }
  }

  /** pause / resume / cancel. */
  control(action: 'pause' | 'resume' | 'cancel'): RunStatus {
    if (this.status !== 'running' && this.status !== 'paused') return this.status;
    if (action === 'pause') this.status = 'paused';
    else if (action === 'resume') this.status = 'running';
    else {
      this.abort.aborted = true;
      this.abort.reason = new Error('cancelled by the user');
    }
    this.wake?.();
    return this.status;
  }
}
