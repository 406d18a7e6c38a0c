/**
 * The live t-SNE of a run's probe features: one t-SNE worker for the page's lifetime, each probe event embedded
 * from the last layout (a warm start) and the layout folded into the store when it is still that run's.
 */
import type { ProbeFeaturesEvent } from '../engine/defense';
import { reportError, store } from './store';
import { TsneClient } from './tsne/tsneClient';

let tsne: TsneClient | null = null;

function tsneClient(): TsneClient {
  if (!tsne) {
    tsne = new TsneClient();
    // The worker lives as long as the page: stop it (and drop a waiting refresh) when the page goes away.
    globalThis.addEventListener?.('pagehide', disposeTsne, { once: true });
  }
  return tsne;
}

/** Stops the t-SNE worker; the next run starts a fresh one. */
export function disposeTsne(): void {
  tsne?.dispose();
  tsne = null;
}

/** Embeds a probe event's features for run `runId` (ignored once another run is shown). */
export function embedProbe(e: ProbeFeaturesEvent, runId: number): void {
  const last = store.getState().run?.probe?.embedding ?? undefined;
  const previous = last?.length === e.labels.length * 2 ? last : undefined;
  tsneClient().request(
    // Cold start (no layout yet) runs to convergence with early exaggeration; warm starts glide from the last layout.
    { features: e.features, n: e.labels.length, dim: e.dim, previous, perplexity: 30, seed: store.getState().settings.seed + 1 },
    (r) => {
      const run = store.getState().run;
      if (!run || run.runId !== runId || !run.probe) return;
      if ('error' in r) return reportError(new Error(`t-SNE: ${r.error}`));
      if (r.embedding.length === run.probe.labels.length * 2) store.set({ run: { ...run, probe: { ...run.probe, embedding: r.embedding } } });
    },
  );
}
