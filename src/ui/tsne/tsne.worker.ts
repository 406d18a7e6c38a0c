/// <reference lib="webworker" />
/** The t-SNE worker: one refresh per message (the engine's t-SNE), so the live map never blocks the page or the engine. */
import { embed } from '../../engine/tsne/embed';
import type { TsneMessage, TsneReply } from './tsneClient';

const scope = self as DedicatedWorkerGlobalScope;
scope.onmessage = (e: MessageEvent<TsneMessage>) => {
  const { id, ...req } = e.data;
  try {
    const t0 = performance.now();
    const r = embed(req);
    const reply: TsneReply = { id, embedding: r.embedding, kl: r.kl, iterations: r.iterations, ms: performance.now() - t0 };
    scope.postMessage(reply, [r.embedding.buffer]);
  } catch (err) {
    scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies TsneReply);
  }
};
