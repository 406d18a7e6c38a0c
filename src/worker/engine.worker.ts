/// <reference lib="webworker" />
/** The engine worker: a thin shim that hands every message to EngineHost. */
import { EngineHost } from './host';
import type { WorkerRequest } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const host = new EngineHost((msg, transfer) => scope.postMessage(msg, transfer ?? []));
scope.onmessage = (e: MessageEvent<WorkerRequest>) => void host.handle(e.data);
