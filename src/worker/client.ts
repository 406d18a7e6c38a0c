/**
 * The page's handle on the engine: typed calls that resolve with the worker's result. Falls back to running the
 * engine on the main thread when a worker cannot start (the page then says so).
 */
import type { Rpc, RpcName, WorkerRequest, WorkerResponse } from './protocol';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Where the engine runs. */
export type EngineMode = 'worker' | 'main-thread';

/** Typed RPC over a worker (or the main-thread fallback), plus a channel for pushed events. */
export class EngineClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(msg: unknown) => void>();
  private send!: (req: WorkerRequest, transfer: Transferable[]) => void;
  mode: EngineMode = 'worker';
  fallbackReason = '';

  private constructor() {}

  /** Starts the engine worker, or the main-thread host if the worker fails to start. */
  static async create(): Promise<EngineClient> {
    const c = new EngineClient();
    try {
      const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module' });
      worker.onmessage = (e) => c.receive(e.data);
      worker.onerror = (e) => {
        const err = new Error(`the engine worker crashed: ${e.message || 'unknown error'}`);
        for (const p of c.pending.values()) p.reject(err);
        c.pending.clear();
      };
      c.send = (req, transfer) => worker.postMessage(req, transfer);
    } catch (e) {
      const { EngineHost } = await import('./host');
      const host = new EngineHost((msg) => queueMicrotask(() => c.receive(msg)));
      c.send = (req) => void host.handle(req);
      c.mode = 'main-thread';
      c.fallbackReason = e instanceof Error ? e.message : String(e);
    }
    return c;
  }

  private receive(msg: unknown): void {
    const m = msg as WorkerResponse;
    if ((m.type === 'result' || m.type === 'error') && this.pending.has(m.id)) {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(new Error(m.message));
      return;
    }
    for (const l of this.listeners) l(msg);
  }

  /** Calls the engine and resolves with its typed result. */
  call<K extends RpcName>(type: K, payload: Rpc[K][0], transfer: Transferable[] = []): Promise<Rpc[K][1]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ id, type, payload } as WorkerRequest, transfer);
    });
  }

  /** Subscribes to pushed messages (defense events); returns the unsubscribe function. */
  onMessage(listener: (msg: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
