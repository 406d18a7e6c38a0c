/**
 * The engine host (src/worker/host.ts) in Node on the WASM backend, driven through its message interface as the
 * page drives it: requests before the backend is ready wait for it (or fail saying why); a run starts on unbalanced
 * clean data (warning about it) and the purified model downloads from the snapshot taken at its end; the live check
 * measures the run's own evaluation images; without a target the live ASR is unknown, not measured against class 0.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDataset, type Dataset, indicesByClass, subset } from '../../src/engine/data/dataset';
import { decodeShard, encodeShard } from '../../src/engine/data/shard';
import type { DefenseEvent } from '../../src/engine/defense/events';
import { readTorchCheckpoint } from '../../src/engine/io/torchCheckpoint';
import { initNodeBackend } from '../../src/platform/node/backend';
import type { BackendReport } from '../../src/platform/selectBackend';
import { EngineHost, type InitBackend } from '../../src/worker/host';
import { eventTransfers } from '../../src/worker/transfers';
import { EngineError, type Rpc, type RpcName, type WorkerMessage, type WorkerPush } from '../../src/worker/protocol';
import { repoRoot } from '../helpers/fixtures';

/** A host and a typed call through its message interface, with every pushed message kept. */
function harness(init: InitBackend) {
  const waiting = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  const pushed: WorkerPush[] = [];
  const answered: number[] = [];
  const host = new EngineHost((m: WorkerMessage) => {
    if (m.type === 'result' || m.type === 'error') {
      answered.push(m.id);
      const w = waiting.get(m.id)!;
      if (m.type === 'result') w.ok(m.result);
      else w.fail(m.code ? new EngineError(m.message, m.code) : new Error(m.message));
    } else pushed.push(m);
  }, init);
  let id = 0;
  const call = <K extends RpcName>(type: K, payload: Rpc[K][0]): Promise<Rpc[K][1]> =>
    new Promise((ok, fail) => {
      const req = { id: ++id, type, payload } as Parameters<EngineHost['handle']>[0];
      waiting.set(req.id, { ok: ok as (v: unknown) => void, fail });
      void host.handle(req);
    });
  return { call, pushed, answered };
}

const fileOf = (p: string) => {
  const b = fs.readFileSync(path.join(repoRoot, p));
  return { name: path.basename(p), bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
};
const shardBytes = (ds: Dataset) => {
  const b = encodeShard(ds);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('EngineHost', () => {
  it('holds requests that arrive before the backend is ready, and answers them once it is', async () => {
    let release!: (r: BackendReport) => void;
    const h = harness(() => new Promise((ok) => (release = ok)));
    const memory = h.call('memory', {});
    const init = h.call('init', {});
    await tick();
    expect(h.answered).toEqual([]); // the memory request waits instead of touching an uninitialized backend
    release(await initNodeBackend('wasm'));
    await Promise.all([init, memory]);
    expect(h.answered).toEqual([2, 1]);
  });

  it('fails waiting requests with the reason the backend did not start', async () => {
    const h = harness(() => Promise.reject(new Error('no backend could start here')));
    const memory = h.call('memory', {});
    await expect(h.call('init', {})).rejects.toThrow(/no backend could start here/);
    await expect(memory).rejects.toThrow('the engine could not start: no backend could start here');
  });

  it('answers a request type it does not know with an error naming it', async () => {
    const ready = harness(() => initNodeBackend('cpu'));
    await ready.call('init', {});
    await expect(ready.call('bogus' as RpcName, {} as never)).rejects.toThrow('unknown request bogus');
    await expect(ready.call('toString' as RpcName, {} as never)).rejects.toThrow('unknown request toString');
  });

  it('transfers the typed arrays an event owns, and leaves views into larger buffers to the copy', () => {
    const features = new Float32Array(6);
    const labels = new Int32Array(3);
    const shared = new Uint8Array(8);
    const e = { type: 'probe-features', stage: 'purify', epoch: 0, features, dim: 2, labels, triggered: shared.subarray(0, 3), trigger: 'true' } as DefenseEvent;
    expect(eventTransfers(e)).toEqual([features.buffer, labels.buffer]);
  });
});

describe('EngineHost on the shipped WRN-16-1', () => {
  const h = harness((b) => initNodeBackend(b === 'cpu' ? 'cpu' : 'wasm'));
  let clean: Dataset;
  let evalSet: Dataset;
  beforeAll(async () => {
    await h.call('init', {});
    // Unbalanced clean data, as uploads are: 6 images of every class but bird (1) and cat (none).
    const full = decodeShard(fs.readFileSync(path.join(repoRoot, 'public/data/clean-5pct.mcld')));
    const pick = indicesByClass(full).flatMap((m, c) => m.slice(0, c === 2 ? 1 : c === 3 ? 0 : 6));
    const part = subset(full, pick);
    clean = createDataset({ images: part.images, labels: Array.from(part.labels), height: 32, width: 32, channels: 3, classNames: [...full.classNames] });
    evalSet = subset(decodeShard(fs.readFileSync(path.join(repoRoot, 'public/data/test-1k.mcld'))), Array.from({ length: 100 }, (_, i) => i));
  });

  it('runs on unbalanced clean data with a warning; the live check is the run\'s own evaluation; downloads come from the snapshot', async () => {
    const card = await h.call('loadModel', { source: { kind: 'files', files: [fileOf('test/e2e/fixtures/wrn-16-1-badnets.pth')], options: { target: 5, attack: 'badnets' } } });
    expect(card.arch).toBe('WRN-16-1'); // from the model itself, not parsed out of the description
    await h.call('loadData', { role: 'clean', source: { kind: 'bytes', name: 'clean.mcld', bytes: shardBytes(clean) } });
    await h.call('loadData', { role: 'eval', source: { kind: 'bytes', name: 'eval.mcld', bytes: shardBytes(evalSet) } });
    const live = await h.call('evaluate', { which: 'original', limit: 30, seed: 4 });
    // A live check still running when a run starts gives way to it (the run measures the same images itself).
    const stillMeasuring = h.call('evaluate', { which: 'original', limit: 0, seed: 4 });
    const started = await h.call('start', {
      config: { method: 'mcldef', target: 5, seed: 4, batchSize: 8, epochs: 1, maxStepsPerEpoch: 1, inversion: { epochs: 1, maxSteps: 1, batchSize: 8 }, evalSize: 30, probePerClass: 0 },
      cleanPercent: 5,
      cleanLimit: 40, // 4 per class for the 9 classes that have images: bird has 1, cat none
    });
    await expect(stillMeasuring).rejects.toMatchObject({ name: 'EngineError', code: 'run-started' }); // the page tests the code, not the message
    expect(started.cleanImages).toBe(40);
    expect(started.warnings.join('\n')).toMatch(/no clean images of class 3 \(cat\)/);
    expect(started.warnings.join('\n')).toMatch(/class 2 \(bird\) has 1 of the 4 clean images per class/);
    await expect(h.call('exportWeights', { format: 'pth' })).rejects.toThrow(/a purified model is not loaded yet/);
    for (let i = 0; i < 600 && !h.pushed.some((m) => m.type === 'run-end'); i++) await tick(100);
    const end = h.pushed.find((m) => m.type === 'run-end');
    expect(end, JSON.stringify(end)).toMatchObject({ status: 'done' });
    expect(end).not.toHaveProperty('summary'); // sent once, in the 'done' event
    const events = h.pushed.flatMap((m) => (m.type === 'run-event' ? [m.event] : []));
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
    const before = events.find((e) => e.type === 'evaluation' && e.when === 'before');
    // One set: the model card's live figures are the run's "before" figures, class by class.
    expect(before).toMatchObject({ ba: live.ba, asrTrue: live.asr, nClean: live.n, nAsr: live.nAsr, perClass: live.perClass });
    expect(live.target).toBe(5);
    const pth = await h.call('exportWeights', { format: 'pth' });
    expect(pth.name).toBe('model-purified.pth');
    const ck = await readTorchCheckpoint(new Uint8Array(pth.bytes));
    expect(ck.stateDict.get('fc.weight')?.shape).toEqual([10, 64]);
    const tfjs = await h.call('exportModel', {});
    expect(tfjs.weights.byteLength).toBeGreaterThan(0);
    expect(JSON.parse(tfjs.modelJson).weightsManifest[0].paths).toEqual(['weights.bin']);
    // Reset lets the purified model and its snapshot go.
    await h.call('reset', {});
    await expect(h.call('exportModel', {})).rejects.toThrow(/a purified model is not loaded yet/);
  });

  it('refuses clean data a trigger inversion cannot use, saying why', async () => {
    const onlyTarget = subset(clean, indicesByClass(clean)[5]);
    await h.call('loadData', { role: 'clean', source: { kind: 'bytes', name: 'dogs.mcld', bytes: shardBytes(onlyTarget) } });
    await expect(h.call('start', { config: { method: 'mcldef', target: 5 }, cleanPercent: 5, cleanLimit: 0 })).rejects.toThrow(/needs clean images of other classes, but all 6 clean images are of class 5/);
  });

  it('without a target, the live ASR is unknown instead of counted against class 0', async () => {
    await h.call('loadModel', { source: { kind: 'files', files: [fileOf('test/e2e/fixtures/wrn-16-1-badnets.pth')], options: { attack: 'badnets' } } });
    await h.call('loadData', { role: 'eval', source: { kind: 'bytes', name: 'eval.mcld', bytes: shardBytes(evalSet) } });
    const live = await h.call('evaluate', { which: 'original', limit: 30, seed: 4 });
    expect(live.asr).toBeNull();
    expect(live.target).toBeNull();
    expect(live.ba).toBeGreaterThan(0.5);
  });
});
