/**
 * Drives one defense run for the page: pulls events from the engine's generator, forwards them, and implements
 * pause (stop pulling), step (pull until the next optimizer step) and cancel (abort signal, everything disposed).
 */
import type * as tf from '@tensorflow/tfjs';
import { isAbortError, runDefense, type DefenseConfigInput, type DefenseDeps, type DefenseEvent, type DefenseResult } from '../engine/defense';
import type { RunEndMessage, RunStatus } from './protocol';

/** One run in progress. */
export class DefenseRunner {
  status: RunStatus = 'running';
  private readonly abort = { aborted: false, reason: undefined as unknown };
  private wake: (() => void) | null = null;
  private stepBudget = Infinity;
  result: DefenseResult | null = null;

  constructor(
    readonly runId: number,
    private readonly emit: (e: DefenseEvent) => void,
    private readonly end: (m: RunEndMessage) => void,
  ) {}

  /** Runs to the end (or cancel); resolves with the purified model, or null. */
  async run(config: DefenseConfigInput, deps: Omit<DefenseDeps, 'signal'>): Promise<tf.LayersModel | null> {
    const gen = runDefense(config, { ...deps, signal: this.abort });
    try {
      for (;;) {
        await this.gate();
        const r = await gen.next();
        if (r.done) {
          this.result = r.value;
          this.status = 'done';
          this.end({ type: 'run-end', runId: this.runId, status: 'done', summary: r.value.summary });
          return r.value.model;
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
      return null;
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
