/**
 * The page's handle on the engine: typed calls that resolve with the worker's result. Falls back to running the
 * engine on the main thread when the worker cannot start: when `new Worker` throws, and when the worker fails
 * while loading its module (an error before its 'worker-ready' message); requests sent meanwhile are replayed on
 * the main thread, so none is lost. The page then says where the engine runs.
 */
import type { EngineHost } from './host';
import { EngineError, type Rpc, type RpcName, type WorkerMessage, type WorkerPush, type WorkerRequest } from './protocol';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; req: WorkerRequest };

/** Where the engine runs. */
export type EngineMode = 'worker' | 'main-thread';

/** The pieces {@link EngineClient.create} starts (replaceable in tests). */
export interface EngineFactories {
  /** Starts the engine worker. */
  worker: () => Worker;
  /** Starts the engine on the main thread, posting its messages to `post`. */
  mainThread: (post: (msg: WorkerMessage) => void) => Promise<Pick<EngineHost, 'handle'>>;
}

const defaultFactories: EngineFactories = {
  worker: () => new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module' }),
  mainThread: async (post) => {
    const [{ EngineHost }, { initBrowserBackend }] = await Promise.all([import('./host'), import('../platform/browser/backend')]);
    return new EngineHost(post, initBrowserBackend);
  },
};

/** Typed RPC over a worker (or the main-thread fallback), plus a channel for pushed messages. */
export class EngineClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(msg: WorkerPush) => void>();
  private send!: (req: WorkerRequest, transfer: Transferable[]) => void;
  private workerLoaded = false;
  mode: EngineMode = 'worker';
  fallbackReason = '';
  /** Resolves once the engine runs on the main thread after a failed worker (tests and the page may await it). */
  fallback: Promise<void> | null = null;

  private constructor(private readonly factories: EngineFactories) {}

  /** Starts the engine worker, or the main-thread host if the worker fails to start or to load. */
  static async create(factories: Partial<EngineFactories> = {}): Promise<EngineClient> {
    const c = new EngineClient({ ...defaultFactories, ...factories });
    try {
      const worker = c.factories.worker();
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => c.receive(e.data);
      worker.onerror = (e) => {
        const reason = `the engine worker failed${c.workerLoaded ? '' : ' to load'}: ${e.message || 'unknown error'}`;
        if (!c.workerLoaded) {
          e.preventDefault?.();
          worker.terminate();
          c.fallback ??= c.toMainThread(reason);
          return;
        }
        const err = new Error(reason);
        for (const p of c.pending.values()) p.reject(err);
        c.pending.clear();
      };
      c.send = (req, transfer) => worker.postMessage(req, transfer);
    } catch (e) {
      c.fallback = c.toMainThread(e instanceof Error ? e.message : String(e));
      await c.fallback;
    }
    return c;
  }

  private async toMainThread(reason: string): Promise<void> {
    this.mode = 'main-thread';
    this.fallbackReason = reason;
    // Calls made while the host loads wait in `pending`; they are sent below with the others.
    this.send = () => undefined;
    try {
      const host = await this.factories.mainThread((msg) => queueMicrotask(() => this.receive(msg)));
      this.send = (req) => void host.handle(req);
    } catch (e) {
      const err = new Error(`the engine could not start in a worker (${reason}) nor on the main thread: ${e instanceof Error ? e.message : String(e)}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.send = (req) => this.receive({ id: req.id, type: 'error', message: err.message });
      return;
    }
    // Requests the dead worker never answered go to the main thread, in the order they were made. Their buffers
    // may have been transferred to the worker already (detached): such a request fails with a clear error there.
    for (const p of [...this.pending.values()].sort((a, b) => a.req.id - b.req.id)) this.send(p.req, []);
  }

  private receive(m: WorkerMessage): void {
    if (m.type === 'result' || m.type === 'error') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(m.code ? new EngineError(m.message, m.code) : new Error(m.message));
      return;
    }
    if (m.type === 'worker-ready') {
      this.workerLoaded = true;
      return;
    }
    for (const l of this.listeners) l(m);
  }

  /** Calls the engine and resolves with its typed result. */
  call<K extends RpcName>(type: K, payload: Rpc[K][0], transfer: Transferable[] = []): Promise<Rpc[K][1]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const req = { id, type, payload } as WorkerRequest;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, req });
      this.send(req, transfer);
    });
  }

  /** Subscribes to pushed messages (defense events, import progress); returns the unsubscribe function. */
  onMessage(listener: (msg: WorkerPush) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
