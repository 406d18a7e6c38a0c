/**
 * Run control shared by the defense stages: abort checks between steps, and periodic yields to the event loop so
 * a UI (or a worker's message handler) stays responsive while a long run is in progress.
 */

/** The part of an AbortSignal the engine reads (a DOM AbortSignal fits; so does a plain object). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** Thrown when a run is aborted; `name` is 'AbortError', as the DOM's. */
export class DefenseAbortError extends Error {
  constructor(reason?: unknown) {
    super(reason instanceof Error ? `defense aborted: ${reason.message}` : reason !== undefined ? `defense aborted: ${String(reason)}` : 'defense aborted');
    this.name = 'AbortError';
  }
}

/** True for errors that mean "aborted" (ours, or a DOM AbortError). */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/** A macrotask boundary: lets timers, messages and rendering run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, 0);
  });
}

/** Counts steps, yields every `yieldEvery` of them, and throws {@link DefenseAbortError} once aborted. */
export class RunControl {
  private steps = 0;

  constructor(
    readonly signal?: AbortSignalLike,
    private readonly yieldEvery = 1,
  ) {
    if (!Number.isInteger(yieldEvery) || yieldEvery < 0) throw new Error(`yieldEvery must be a non-negative integer, got ${yieldEvery}`);
  }

  /** Throws if the signal is aborted. */
  throwIfAborted(): void {
    if (this.signal?.aborted) throw new DefenseAbortError(this.signal.reason);
  }

  /** Call between steps: checks the signal, and every `yieldEvery` calls awaits a macrotask (0: never). */
  async tick(): Promise<void> {
    this.throwIfAborted();
    this.steps++;
    if (this.yieldEvery > 0 && this.steps % this.yieldEvery === 0) {
      await yieldToEventLoop();
      this.throwIfAborted();
    }
  }
}

/**
 * Drives an engine generator (a defense run, a planting) to its end, passing every event to `onEvent`, and
 * resolves to its return value. If `onEvent` throws, the generator is stopped (so it cleans up) and the error
 * rethrown.
 */
export async function driveToEnd<E, R>(run: AsyncGenerator<E, R, void>, onEvent?: (e: E) => void): Promise<R> {
  for (;;) {
    const r = await run.next();
    if (r.done) return r.value;
    try {
      onEvent?.(r.value);
    } catch (e) {
      await run.return(undefined as unknown as R).catch(() => undefined);
      throw e;
    }
  }
}
