/**
 * Ctrl-C for the CLI. The first SIGINT aborts the command's signal (the defense stops at its next step and the
 * command exits 130 with a message, having written nothing); a second one exits at once. Long loops must let
 * the event loop run now and then (RunControl's yieldEvery), or the signal is never delivered.
 */

/** Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

/** Thrown (or recognized) when the user interrupted the command. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted (Ctrl-C)');
    this.name = 'AbortError';
  }
}

let controller = new AbortController();

/** The signal commands pass to long work; aborted with an {@link InterruptedError} by Ctrl-C. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** Throws {@link InterruptedError} once Ctrl-C was pressed (call between phases that the signal does not reach). */
export function throwIfInterrupted(): void {
  if (controller.signal.aborted) throw new InterruptedError();
}

/** Installs the SIGINT handler for one command; returns its removal. */
export function handleSigint(onFirst: () => void = () => process.stderr.write('\nstopping at the next step (Ctrl-C again to quit at once)...\n')): () => void {
  controller = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      onFirst();
      controller.abort(new InterruptedError());
    } else {
      process.exit(INTERRUPTED_EXIT);
    }
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}
