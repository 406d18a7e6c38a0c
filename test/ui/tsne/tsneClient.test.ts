import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/engine/random';
import { TsneClient, type TsneResult } from '../../../src/ui/tsne/tsneClient';

// Node has no Worker, so the client runs its main-thread fallback: the same queueing rules apply.
function features(n: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n * dim }, () => rng.normal());
}

const until = (cond: () => boolean) =>
  new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (cond() ? resolve() : Date.now() - t0 > 20_000 ? reject(new Error('timed out')) : setTimeout(tick, 5));
    tick();
  });

describe('TsneClient', () => {
  it('keeps only the newest waiting request', async () => {
    const client = new TsneClient();
    const got: string[] = [];
    const results: TsneResult[] = [];
    const req = (seed: number) => ({ features: features(40, 4, seed), n: 40, dim: 4, perplexity: 5, seed, iterations: 50 });
    client.request(req(1), (r) => (got.push('first'), results.push(r)));
    client.request(req(2), (r) => (got.push('stale'), results.push(r)));
    client.request(req(3), (r) => (got.push('newest'), results.push(r)));
    await until(() => got.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['first', 'newest']);
    for (const r of results) expect('embedding' in r && r.embedding.length === 80).toBe(true);
    client.dispose();
  });

  it('reports bad input as an error and calls nothing after dispose', async () => {
    const client = new TsneClient();
    const out: TsneResult[] = [];
    client.request({ features: new Float32Array(7), n: 4, dim: 2, perplexity: 1, seed: 0 }, (r) => out.push(r));
    await until(() => out.length === 1);
    expect(out[0]).toEqual({ error: 't-SNE: expected 4x2 = 8 feature values, got 7' });
    client.request({ features: features(20, 2, 1), n: 20, dim: 2, perplexity: 3, seed: 0, iterations: 20 }, (r) => out.push(r));
    client.dispose();
    client.request({ features: features(20, 2, 2), n: 20, dim: 2, perplexity: 3, seed: 0, iterations: 20 }, (r) => out.push(r));
    await new Promise((r) => setTimeout(r, 300));
    expect(out.length).toBe(1);
  });

  it('falls back to the main thread when its worker fails, redoing the refresh in flight', async () => {
    // A stand-in worker that takes requests and never answers; the test fires its error event.
    const fake = { onmessage: null as unknown, onerror: null as ((e: ErrorEvent) => void) | null, sent: 0, terminated: false,
      postMessage() { this.sent++; }, terminate() { this.terminated = true; } };
    const client = new TsneClient(() => fake as unknown as Worker);
    const out: TsneResult[] = [];
    client.request({ features: features(30, 3, 4), n: 30, dim: 3, perplexity: 5, seed: 1, iterations: 30 }, (r) => out.push(r));
    expect(fake.sent).toBe(1);
    fake.onerror!({ message: 'Failed to fetch dynamically imported module: tsne.worker.js', preventDefault: () => undefined } as ErrorEvent);
    expect(fake.terminated).toBe(true);
    expect(client.fallbackReason).toMatch(/the t-SNE worker failed: Failed to fetch/);
    await until(() => out.length === 1);
    expect('embedding' in out[0] && out[0].embedding.length === 60).toBe(true);
    // later requests run on the main thread too
    client.request({ features: features(30, 3, 5), n: 30, dim: 3, perplexity: 5, seed: 1, iterations: 30 }, (r) => out.push(r));
    await until(() => out.length === 2);
    expect(fake.sent).toBe(1);
    client.dispose();
  });
});
