/**
 * The attack lab through the engine host's message interface (Node, WASM): a drawn trigger planted into a model
 * (tiny budget) streams its events, the planted model becomes the page's model with its attack and target known
 * (the live check then measures ASR with the drawn trigger), a defense runs on it, and bad requests fail clearly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Dataset, subset } from '../../src/engine/data/dataset';
import { decodeShard, encodeShard } from '../../src/engine/data/shard';
import type { PlantEvent } from '../../src/engine/attacks/plantConfig';
import { initNodeBackend } from '../../src/platform/node/backend';
import { EngineHost } from '../../src/worker/host';
import type { Rpc, RpcName, WorkerMessage, WorkerPush } from '../../src/worker/protocol';
import { repoRoot } from '../helpers/fixtures';

function harness() {
  const waiting = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  const pushed: WorkerPush[] = [];
  const host = new EngineHost((m: WorkerMessage) => {
    if (m.type === 'result' || m.type === 'error') {
      const w = waiting.get(m.id)!;
      if (m.type === 'result') w.ok(m.result);
      else w.fail(new Error(m.message));
    } else pushed.push(m);
  }, () => initNodeBackend('wasm'));
  let id = 0;
  const call = <K extends RpcName>(type: K, payload: Rpc[K][0]): Promise<Rpc[K][1]> =>
    new Promise((ok, fail) => {
      const req = { id: ++id, type, payload } as Parameters<EngineHost['handle']>[0];
      waiting.set(req.id, { ok: ok as (v: unknown) => void, fail });
      void host.handle(req);
    });
  return { call, pushed };
}
const bytesOf = (ds: Dataset) => {
  const b = encodeShard(ds);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const fileOf = (p: string) => {
  const b = fs.readFileSync(path.join(repoRoot, p));
  return { name: path.basename(p), bytes: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
};
const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

/** A 4x4 opaque magenta square at rows/cols 2-5, the rest transparent. */
function drawn(): Uint8Array {
  const rgba = new Uint8Array(32 * 32 * 4);
  for (let r = 2; r < 6; r++) for (let c = 2; c < 6; c++) rgba.set([255, 0, 255, 255], 4 * (r * 32 + c));
  return rgba;
}

describe('attack lab (engine host)', () => {
  const h = harness();
  let attacker: ArrayBuffer;
  beforeAll(async () => {
    await h.call('init', {});
    const test = decodeShard(fs.readFileSync(path.join(repoRoot, 'public/data/test-1k.mcld')));
    // Stand-ins for the attacker's share and the evaluation set, kept tiny.
    attacker = bytesOf(subset(test, Array.from({ length: 40 }, (_, i) => i * 25)));
    await h.call('loadData', { role: 'eval', source: { kind: 'bytes', name: 'eval.mcld', bytes: bytesOf(subset(test, Array.from({ length: 50 }, (_, i) => i * 20 + 1))) } });
    await h.call('loadData', { role: 'clean', source: { kind: 'bytes', name: 'clean.mcld', bytes: bytesOf(subset(test, Array.from({ length: 40 }, (_, i) => i * 25 + 3))) } });
    await h.call('loadModel', { source: { kind: 'files', files: [fileOf('test/e2e/fixtures/wrn-16-1-badnets.pth')], options: { target: 5, attack: 'badnets' } } });
  });

  it('plants a drawn trigger, adopts the planted model with its attack, and a defense runs on it', async () => {
    const before = (await h.call('memory', {})).numTensors;
    const { runId } = await h.call('plant', {
      trigger: { kind: 'rgba', rgba: drawn(), height: 32, width: 32 },
      data: { kind: 'bytes', name: 'attacker.mcld', bytes: attacker },
      config: { target: 3, rate: 0.25, steps: 2, batchSize: 8, evalEvery: 1, evalSize: 20, seed: 1 },
      title: 'your trigger',
    });
    for (let i = 0; i < 600 && !h.pushed.some((m) => m.type === 'plant-end'); i++) await tick();
    const end = h.pushed.find((m) => m.type === 'plant-end');
    expect(end, JSON.stringify(end)).toMatchObject({ runId, status: 'done', card: { target: 3, attack: { name: 'mask', title: 'your trigger' } } });
    const events = h.pushed.flatMap((m) => (m.type === 'plant-event' ? [m.event as PlantEvent] : []));
    expect(events.map((e) => e.type)).toEqual(['plant-plan', 'plant-poisoned', 'plant-eval', 'plant-step', 'plant-eval', 'plant-step', 'plant-eval', 'plant-done']);
    // The old model was let go: the planted one replaced it.
    expect((await h.call('memory', {})).numTensors).toBe(before);
    // The live check now measures ASR with the drawn trigger against class 3.
    const live = await h.call('evaluate', { which: 'original', limit: 20, seed: 1 });
    expect(live.target).toBe(3);
    expect(live.asr).not.toBeNull();
    await h.call('start', { config: { method: 'ft', target: 3, seed: 1, batchSize: 8, epochs: 1, maxStepsPerEpoch: 1, evalSize: 20, probePerClass: 0 }, cleanPercent: 5, cleanLimit: 20 });
    for (let i = 0; i < 600 && !h.pushed.some((m) => m.type === 'run-end'); i++) await tick();
    const run = h.pushed.flatMap((m) => (m.type === 'run-event' ? [m.event] : []));
    const after = run.find((e) => e.type === 'evaluation' && e.when === 'after');
    expect(after).toMatchObject({ nClean: 20 });
    expect((after as { asrTrue: number | null }).asrTrue).not.toBeNull();
  });

  it('refuses a trigger that covers everything, one of another size, and cancels on request', async () => {
    const full = new Uint8Array(32 * 32 * 4).fill(255);
    const req = (trigger: Rpc['plant'][0]['trigger']) => h.call('plant', { trigger, data: { kind: 'bytes', name: 'attacker.mcld', bytes: attacker }, config: { steps: 1, batchSize: 8 }, title: 't' });
    await expect(req({ kind: 'rgba', rgba: full, height: 32, width: 32 })).rejects.toThrow(/covers the whole 32x32 image/);
    await expect(req({ kind: 'rgba', rgba: new Uint8Array(16 * 16 * 4), height: 16, width: 16 })).rejects.toThrow(/the trigger is 16x16 but the model takes 32x32/);
    h.pushed.length = 0;
    const { runId } = await h.call('plant', { trigger: { kind: 'named', name: 'badnets' }, data: { kind: 'bytes', name: 'attacker.mcld', bytes: attacker }, config: { steps: 50, batchSize: 8, evalEvery: 50, evalSize: 10 }, title: 'BadNets' });
    await tick(200);
    await h.call('plantControl', { action: 'cancel' });
    for (let i = 0; i < 200 && !h.pushed.some((m) => m.type === 'plant-end'); i++) await tick();
    expect(h.pushed.find((m) => m.type === 'plant-end')).toMatchObject({ runId, status: 'cancelled' });
  });
});
