/**
 * The page's handle on the t-SNE worker. Keeps at most one refresh in flight and one waiting (the newest), so a
 * slow embedding never queues up stale epochs. Falls back to the main thread when the worker cannot start.
 */
import type { EmbedRequest } from '../../engine/tsne/embed';

/** A request as it crosses to the worker. */
export type TsneMessage = EmbedRequest & { id: number };
/** The worker's answer: the layout, or why there is none. */
export type TsneReply = { id: number } & ({ embedding: Float64Array; kl: number; iterations: number; ms: number } | { error: string });
/** What a caller gets back. */
export type TsneResult = { embedding: Float64Array; kl: number; iterations: number; ms: number } | { error: string };

type Done = (r: TsneResult) => void;

export class TsneClient {
  private worker: Worker | null = null;
  private busy = false;
  private disposed = false;
  private waiting: { req: EmbedRequest; done: Done } | null = null;
  private nextId = 1;
  private callbacks = new Map<number, Done>();

  constructor() {
    try {
      this.worker = new Worker(new URL('./tsne.worker.ts', import.meta.url), { type: 'module' });
      this.worker.onmessage = (e: MessageEvent<TsneReply>) => {
        const { id, ...result } = e.data;
        const cb = this.callbacks.get(id);
        this.callbacks.delete(id);
        this.busy = false;
        cb?.(result);
        this.pump();
      };
    } catch {
      this.worker = null;
    }
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
        this.busy = false;
        this.pump();
      });
    }
  }

  /** Drops any waiting request and stops the worker; later requests are ignored. */
  dispose(): void {
    this.disposed = true;
    this.waiting = null;
    this.callbacks.clear();
    this.worker?.terminate();
    this.worker = null;
  }
}
