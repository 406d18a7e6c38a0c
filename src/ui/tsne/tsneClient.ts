/**
 * The page's handle on the t-SNE worker. Keeps at most one refresh in flight and one waiting (the newest), so a
 * slow embedding never queues up stale epochs. Falls back to the main thread when the worker cannot start.
 */
import type { EmbedRequest } from './embed';

type Done = (r: { embedding: Float64Array; ms: number } | { error: string }) => void;

export class TsneClient {
  private worker: Worker | null = null;
  private busy = false;
  private waiting: { req: EmbedRequest; done: Done } | null = null;
  private nextId = 1;
  private callbacks = new Map<number, Done>();

  constructor() {
    try {
      this.worker = new Worker(new URL('./tsne.worker.ts', import.meta.url), { type: 'module' });
      this.worker.onmessage = (e) => {
        const cb = this.callbacks.get(e.data.id);
        this.callbacks.delete(e.data.id);
        this.busy = false;
        cb?.(e.data);
        this.pump();
      };
    } catch {
      this.worker = null;
    }
  }

  /** Requests an embedding; a newer request replaces one still waiting (its callback is never called). */
  request(req: EmbedRequest, done: Done): void {
    this.waiting = { req, done };
    this.pump();
  }

  private pump(): void {
    if (this.busy || !this.waiting) return;
    const { req, done } = this.waiting;
    this.waiting = null;
    this.busy = true;
    if (this.worker) {
      const id = this.nextId++;
      this.callbacks.set(id, done);
      this.worker.postMessage({ ...req, id });
    } else {
      void import('./embed').then(({ embed }) => {
        const t0 = performance.now();
        try {
          done({ embedding: embed(req), ms: performance.now() - t0 });
        } catch (e) {
          done({ error: (e as Error).message });
        }
        this.busy = false;
        this.pump();
      });
    }
  }

  /** Drops any waiting request and stops the worker. */
  dispose(): void {
    this.waiting = null;
    this.worker?.terminate();
    this.worker = null;
  }
}
