/// <reference lib="webworker" />
/** The t-SNE worker: one refresh per message, so the live embedding never blocks the page or the engine. */
import { embed, type EmbedRequest } from './embed';

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = (e: MessageEvent<EmbedRequest & { id: number }>) => {
  try {
    const t0 = performance.now();
    const embedding = embed(e.data);
    scope.postMessage({ id: e.data.id, embedding, ms: performance.now() - t0 }, [embedding.buffer]);
  } catch (err) {
    scope.postMessage({ id: e.data.id, error: err instanceof Error ? err.message : String(err) });
  }
};
