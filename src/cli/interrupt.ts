/**
 * Ctrl-C for the CLI's long loops (inversion, detection, purification). While {@link withSigint} runs, the first
 * SIGINT aborts the signal it hands out (the defense stops at its next step; the command exits 130 with a
 * message, having written nothing) and a second one exits at once. The loop must let the event loop run between
 * steps (RunControl's yieldEvery), or the signal is never delivered. Outside such loops Node's default applies:
 * Ctrl-C ends the process at once.
 */

/** Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

/** The reason a Ctrl-C abort carries. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted (Ctrl-C)');
    this.name = 'AbortError';
  }
}

/**
 * Runs `work` with SIGINT turned into an abort of the signal it receives.
 * @returns what `work` returns; rejects with its error (an AbortError once interrupted)
 */
export async function withSigint<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    if (++count > 1) process.exit(INTERRUPTED_EXIT);
    process.stderr.write('\nstopping at the next step (Ctrl-C again to quit at once)...\n');
    controller.abort(new InterruptedError());
  };
  process.on('SIGINT', handler);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', handler);
  }
}
