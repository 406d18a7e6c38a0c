/**
 * The engine client's fallback (src/worker/client.ts): a worker that cannot be constructed, and one that is
 * constructed but fails while loading its module (an error event before 'worker-ready'), both leave the page on a
 * main-thread engine that answers every call, including calls made before the failure showed.
 */
import { describe, expect, it } from 'vitest';
import { EngineClient, type EngineFactories } from '../../src/worker/client';
import { EngineError, type WorkerMessage, type WorkerRequest } from '../../src/worker/protocol';

/** A stand-in worker: records what it is sent; the test fires its events. */
class FakeWorker {
  onmessage: ((e: MessageEvent<WorkerMessage>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  sent: WorkerRequest[] = [];
  terminated = false;
  postMessage(req: WorkerRequest): void {
    this.sent.push(req);
  }
  terminate(): void {
    this.terminated = true;
  }
  fail(message: string): void {
    this.onerror?.({ message, preventDefault: () => undefined } as ErrorEvent);
  }
  say(msg: WorkerMessage): void {
    this.onmessage?.({ data: msg } as MessageEvent<WorkerMessage>);
  }
}

/** A main-thread engine that answers 'memory' with a fixed count and records the request order. */
function fakeMainThread(seen: string[]): EngineFactories['mainThread'] {
  return async (post) => ({
    handle: async (req: WorkerRequest) => {
      seen.push(req.type);
      post({ id: req.id, type: 'result', result: req.type === 'memory' ? { numTensors: 7, numBytes: 0 } : { status: 'idle' } });
    },
  });
}

describe('EngineClient', () => {
  it('falls back to the main thread when the worker fails to load after it was created', async () => {
    const worker = new FakeWorker();
    const seen: string[] = [];
    const client = await EngineClient.create({ worker: () => worker as unknown as Worker, mainThread: fakeMainThread(seen) });
    expect(client.mode).toBe('worker');
    const early = client.call('memory', {}); // made before the failure shows
    worker.fail('Failed to fetch dynamically imported module: engine.worker.js');
    await client.fallback;
    expect(client.mode).toBe('main-thread');
    expect(client.fallbackReason).toMatch(/failed to load: Failed to fetch dynamically imported module/);
    expect(worker.terminated).toBe(true);
    await expect(early).resolves.toEqual({ numTensors: 7, numBytes: 0 });
    await expect(client.call('control', { action: 'pause' })).resolves.toEqual({ status: 'idle' });
    expect(seen).toEqual(['memory', 'control']);
  });

  it('falls back when the worker cannot be constructed', async () => {
    const seen: string[] = [];
    const client = await EngineClient.create({
      worker: () => {
        throw new Error('Worker is not defined');
      },
      mainThread: fakeMainThread(seen),
    });
    expect(client.mode).toBe('main-thread');
    await expect(client.call('memory', {})).resolves.toEqual({ numTensors: 7, numBytes: 0 });
  });

  it('keeps a worker that loaded: a later crash rejects the calls in flight and does not switch', async () => {
    const worker = new FakeWorker();
    const client = await EngineClient.create({ worker: () => worker as unknown as Worker, mainThread: fakeMainThread([]) });
    worker.say({ type: 'worker-ready' });
    const call = client.call('memory', {});
    worker.fail('out of memory');
    await expect(call).rejects.toThrow('the engine worker failed: out of memory');
    expect(client.mode).toBe('worker');
    expect(client.fallback).toBeNull();
  });

  it('rebuilds a coded engine error, so the page tests its code instead of its message', async () => {
    const worker = new FakeWorker();
    const client = await EngineClient.create({ worker: () => worker as unknown as Worker, mainThread: fakeMainThread([]) });
    worker.say({ type: 'worker-ready' });
    const coded = client.call('memory', {});
    const plain = client.call('memory', {});
    worker.say({ id: worker.sent[0].id, type: 'error', message: 'a defense run started', code: 'run-started' });
    worker.say({ id: worker.sent[1].id, type: 'error', message: 'something else' });
    const e = await coded.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e).toMatchObject({ code: 'run-started', message: 'a defense run started' });
    await expect(plain).rejects.not.toBeInstanceOf(EngineError);
  });
});
