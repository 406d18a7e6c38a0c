/** The attack lab's state: a planting folded from its events, and the trigger read from the page address. */
import { describe, expect, it } from 'vitest';
import type { PlantEvent } from '../../src/engine/attacks/plantConfig';
import { defaultTrigger, foldPlant, initialLab, newPlant } from '../../src/ui/lab/labStore';
import { blankTrigger, encodeTrigger, paint } from '../../src/ui/lab/trigger';

describe('lab store', () => {
  it('folds a planting from its events', () => {
    const events: PlantEvent[] = [
      { type: 'plant-plan', attack: 'Mask trigger', target: 5, rate: 0.1, steps: 2, batchSize: 64, evalEvery: 1, trainImages: 2500, poisoned: 12, mode: 'pairs', evalImages: 200 },
      { type: 'plant-poisoned', images: new Uint8Array(2 * 12), height: 2, width: 2, channels: 3, original: Int32Array.from([1, 2]), relabelled: Int32Array.from([5, 5]) },
      { type: 'plant-eval', step: 0, ba: 0.84, asr: 0.02, nClean: 200, nAsr: 180, seconds: 1 },
      { type: 'plant-step', step: 1, steps: 2, lr: 0.01, loss: 1.5 },
      { type: 'plant-eval', step: 1, ba: 0.8, asr: 0.4, nClean: 200, nAsr: 180, seconds: 2 },
    ];
    const p = events.reduce(foldPlant, newPlant(7));
    expect(p).toMatchObject({ runId: 7, status: 'running', step: 1, loss: 1.5, plan: { steps: 2, poisoned: 12 }, summary: null });
    expect(p.points).toEqual([{ step: 0, ba: 0.84, asr: 0.02 }, { step: 1, ba: 0.8, asr: 0.4 }]);
    expect(p.preview?.relabelled).toEqual(Int32Array.from([5, 5]));
  });

  it('starts from the trigger in the address, or the default one when it is damaged', () => {
    const t = paint(blankTrigger(), 1, 2, [9, 8, 7], 255);
    expect(initialLab(`?trigger=${encodeTrigger(t)}`).trigger).toEqual(t);
    expect(initialLab('?trigger=AAAA').trigger).toEqual(defaultTrigger());
    expect(initialLab('').scores).toEqual([]);
  });
});
