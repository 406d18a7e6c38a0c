/**
 * The page's handle on the t-SNE worker. Keeps at most one refresh in flight and one waiting (the newest), so a
 * slow embedding never queues up stale epochs. Falls back to the main thread when the worker cannot start, and when
 * it fails later (an error event: a module that did not load, a crash): the refresh in flight is then redone there
 * unless a newer one waits.
 */
import type { EmbedRequest } from '../../engine/tsne/embed';

/** A request as it crosses to the worker. */
export type TsneMessage = EmbedRequest & { id: number };
/** The worker's answer: the layout, or why there is none. */
export type TsneReply = { id: number } & ({ embedding: Float64Array; kl: number; iterations: number; ms: number } | { error: string });
/** What a caller gets back. */
export type TsneResult = { embedding: Float64Array; kl: number; iterations: number; ms: number } | { error: string };

type Done = (r: TsneResult) => void;
type Job = { req: EmbedRequest; done: Done };

/** Makes the t-SNE worker (tests pass a stand-in). */
export type TsneWorkerFactory = () => Worker;

const defaultWorker: TsneWorkerFactory = () => new Worker(new URL('./tsne.worker.ts', import.meta.url), { type: 'module' });

export class TsneClient {
  private worker: Worker | null = null;
  private busy = false;
  private disposed = false;
  private waiting: Job | null = null;
  private inFlight: Job | null = null;
  private nextId = 1;
  private callbacks = new Map<number, Done>();
  /** Why the worker was given up for the main thread, or null while it is in use (or never started). */
  fallbackReason: string | null = null;

  constructor(makeWorker: TsneWorkerFactory = defaultWorker) {
    try {
      const worker = makeWorker();
      worker.onmessage = (e: MessageEvent<TsneReply>) => {
        const { id, ...result } = e.data;
        const cb = this.callbacks.get(id);
        this.callbacks.delete(id);
        this.busy = false;
        this.inFlight = null;
        cb?.(result);
        this.pump();
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        this.toMainThread(`the t-SNE worker failed: ${e.message || 'unknown error'}`);
      };
      this.worker = worker;
    } catch (e) {
      this.worker = null;
      this.fallbackReason = `no t-SNE worker: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** Gives the worker up; the refresh it had in flight is redone on the main thread unless a newer one waits. */
  private toMainThread(reason: string): void {
    if (!this.worker) return;
    this.worker.terminate();
    this.worker = null;
    this.fallbackReason = reason;
    this.callbacks.clear();
    if (this.inFlight && !this.waiting) this.waiting = this.inFlight;
    this.inFlight = null;
    this.busy = false;
    this.pump();
  }

  /** Requests an embedding; a newer request replaces one still waiting (its callback is never called). */
  request(req: EmbedRequest, done: Done): void {
    if (this.disposed) return;
    this.waiting = { req, done };
    this.pump();
  }

  private pump(): void {
    if (this.busy || !this.waiting || this.disposed) return;
    const { req, done } = this.waiting;
    this.inFlight = this.waiting;
    this.waiting = null;
    this.busy = true;
    if (this.worker) {
      const id = this.nextId++;
      this.callbacks.set(id, done);
      this.worker.postMessage({ ...req, id } satisfies TsneMessage);
    } else {
      void import('../../engine/tsne/embed').then(({ embed }) => {
        const t0 = performance.now();
        try {
          const r = embed(req);
          if (!this.disposed) done({ ...r, ms: performance.now() - t0 });
        } catch (e) {
          if (!this.disposed) done({ error: (e as Error).message });
        }
        this.inFlight = null;
        this.busy = false;
        this.pump();
      });
    }
  }

  /** Drops any waiting request and stops the worker; later requests are ignored. */
  dispose(): void {
    this.disposed = true;
    this.waiting = null;
    this.inFlight = null;
    this.callbacks.clear();
    this.worker?.terminate();
    this.worker = null;
  }
}
