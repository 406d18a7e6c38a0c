/**
 * selectFastestBackend on Node's two backends (cpu and wasm), with a stand-in measurement so the choice is
 * decided by the numbers given: the fastest timed candidate wins, a software one is not timed and does not win,
 * a failing one is skipped with its reason, `only` times just that one, and the report says why.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import type { Calibration } from '../../src/engine/defense/calibrate';
import { wasmDir } from '../../src/platform/node/backend';
import { type BackendCandidate, type BackendName, selectBackend, selectFastestBackend } from '../../src/platform/selectBackend';

const cal = (train: number): Calibration => ({ forward: train * 3, train, invert: train * 2, ms: 1, partial: false });

/** A measurement that reports `rates[active backend]` and records which backends it ran on. */
function fakeMeasure(rates: Partial<Record<BackendName, number>>, seen: string[]) {
  return async () => {
    seen.push(tf.getBackend());
    return cal(rates[tf.getBackend() as BackendName] ?? 1);
  };
}

const wasm = (over: Partial<BackendCandidate> = {}): BackendCandidate => ({ name: 'wasm', prepare: () => setWasmPaths(wasmDir()), ...over });
const lastResort: BackendCandidate = { name: 'cpu' };

describe('selectFastestBackend', () => {
  it('times every candidate but the last resort and activates the fastest', async () => {
    const seen: string[] = [];
    let r = await selectFastestBackend([{ name: 'cpu' }, wasm(), lastResort], fakeMeasure({ cpu: 5, wasm: 50 }, seen));
    expect(seen).toEqual(['cpu', 'wasm']);
    expect(r.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(r.timings?.map((t) => [t.name, t.rates?.train])).toEqual([['cpu', 5], ['wasm', 50]]);
    expect(r.why).toBe('WASM trains fastest here (CPU 5.0 img/s; WASM 50 img/s)');
    expect(r.skipped).toEqual([{ name: 'cpu', reason: 'slower here (5.0 img/s of training)' }]);

    r = await selectFastestBackend([{ name: 'cpu' }, wasm(), lastResort], fakeMeasure({ cpu: 80, wasm: 50 }, []));
    expect(r.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('does not time a software device, nor choose it while another works', async () => {
    const seen: string[] = [];
    const r = await selectFastestBackend([wasm({ software: () => 'a software adapter' }), { name: 'cpu' }, lastResort], fakeMeasure({ cpu: 1, wasm: 1000 }, seen));
    expect(seen).toEqual(['cpu']);
    expect(r.backend).toBe('cpu');
    expect(r.why).toBe('CPU trains fastest here (WASM: a software adapter; CPU 1.0 img/s)');
    expect(r.skipped).toContainEqual({ name: 'wasm', reason: 'a software adapter' });
  });

  it('skips a candidate that fails to start and says why', async () => {
    const r = await selectFastestBackend(
      [wasm({ prepare: () => { throw new Error('no adapter'); } }), { name: 'cpu' }, lastResort],
      fakeMeasure({ cpu: 3 }, []),
    );
    expect(r.backend).toBe('cpu');
    expect(r.skipped).toContainEqual({ name: 'wasm', reason: 'no adapter' });
    expect(r.why).toBe('CPU trains fastest here (WASM could not start: no adapter; CPU 3.0 img/s)');
  });

  it('with `only`, starts and times just that backend', async () => {
    const seen: string[] = [];
    const r = await selectFastestBackend([{ name: 'cpu' }, wasm(), lastResort], fakeMeasure({ wasm: 42 }, seen), 'wasm');
    expect(seen).toEqual(['wasm']);
    expect(r.backend).toBe('wasm');
    expect(r.why).toMatch(/asked for .*\?backend=wasm.*42 img\/s/);
  });

  it('prepares and sets up a candidate once per activation', async () => {
    const calls = { prepare: 0, afterInit: 0 };
    const counted = wasm({ prepare: () => { calls.prepare++; setWasmPaths(wasmDir()); }, afterInit: () => { calls.afterInit++; } });
    await selectBackend([counted, lastResort]);
    expect(calls).toEqual({ prepare: 1, afterInit: 1 });
    await selectFastestBackend([{ name: 'cpu' }, counted, lastResort], fakeMeasure({ wasm: 9 }, []), 'wasm');
    expect(calls).toEqual({ prepare: 2, afterInit: 2 });
  });
});
