/// <reference lib="webworker" />
/** The engine worker: a thin shim that hands every message to EngineHost, and says once it has loaded. */
import { initBrowserBackend } from '../platform/browser/backend';
import { EngineHost } from './host';
import type { WorkerMessage, WorkerRequest } from './protocol';

const scope = self as DedicatedWorkerGlobalScope;
const post = (msg: WorkerMessage, transfer?: Transferable[]) => scope.postMessage(msg, transfer ?? []);
const host = new EngineHost(post, initBrowserBackend);
scope.onmessage = (e: MessageEvent<WorkerRequest>) => void host.handle(e.data);
post({ type: 'worker-ready' });
