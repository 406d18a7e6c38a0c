/**
 * Drives one defense run for the page: pulls events from the engine's generator, forwards them, and implements
 * pause (stop pulling), step (pull until the next optimizer step) and cancel (abort signal, everything disposed).
 */
import type * as tf from '@tensorflow/tfjs';
import { isAbortError, runDefense, type DefenseConfigInput, type DefenseDeps, type DefenseEvent, type DefenseSummary } from '../engine/defense';
import type { RunEndMessage, RunStatus } from './protocol';

/**
 * Takes over a finished run's purified model before the run is reported done; resolves false when nobody wants it
 * any more (the page reset or moved on), and the runner then disposes it.
 */
export type Finish = (purified: tf.LayersModel, summary: DefenseSummary) => Promise<boolean>;

/** One run in progress. */
export class DefenseRunner {
  status: RunStatus = 'running';
  private readonly abort = { aborted: false, reason: undefined as unknown };
  private wake: (() => void) | null = null;
  private stepBudget = Infinity;

  constructor(
    readonly runId: number,
    private readonly emit: (e: DefenseEvent) => void,
    private readonly end: (m: RunEndMessage) => void,
  ) {}

  /** Runs to the end (or cancel), hands the purified model to `finish`, then posts the run's end. */
  async run(config: DefenseConfigInput, deps: Omit<DefenseDeps, 'signal'>, finish: Finish): Promise<void> {
    const gen = runDefense(config, { ...deps, signal: this.abort });
    try {
      for (;;) {
        await this.gate();
        const r = await gen.next();
        if (r.done) {
          // The summary reached the page in the run's 'done' event; the end message only says how it ended.
          if (!(await finish(r.value.model, r.value.summary))) r.value.model.dispose();
          this.status = 'done';
          this.end({ type: 'run-end', runId: this.runId, status: 'done' });
          return;
        }
        this.emit(r.value);
        if (r.value.type === 'inversion-step' || r.value.type === 'purify-step') {
          this.stepBudget--;
          if (this.stepBudget <= 0) this.status = 'paused';
        }
      }
    } catch (e) {
      const cancelled = isAbortError(e);
      this.status = cancelled ? 'cancelled' : 'failed';
      this.end({ type: 'run-end', runId: this.runId, status: this.status, message: cancelled ? 'cancelled' : e instanceof Error ? e.message : String(e) });
    }
  }

  private async gate(): Promise<void> {
    while (this.status === 'paused' && !this.abort.aborted) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** pause / resume / step / cancel. */
  control(action: 'pause' | 'resume' | 'step' | 'cancel'): RunStatus {
    if (this.status !== 'running' && this.status !== 'paused') return this.status;
    if (action === 'pause') this.status = 'paused';
    else if (action === 'resume') {
      this.stepBudget = Infinity;
      this.status = 'running';
    } else if (action === 'step') {
      this.stepBudget = 1;
      this.status = 'running';
    } else {
      this.abort.aborted = true;
      this.abort.reason = new Error('cancelled by the user');
    }
    this.wake?.();
    return this.status;
  }
}
