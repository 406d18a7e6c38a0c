/**
 * The model card (src/worker/modelCard.ts) names the architecture from the model the engine built, never by
 * cutting its human description at the first comma (which split "PreAct-ResNet-18 (width 4, final BN)" in two), and
 * refuses stated facts that do not fit the model.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/engine/io/safetensors';
import { stateDictFromModel } from '../../src/engine/model/stateDictExport';
import { buildPreActResNet18, RESNET18_CIFAR10 } from '../../src/engine/model/resnet';
import { initNodeBackend } from '../../src/platform/node/backend';
import { modelCard } from '../../src/worker/modelCard';
import { loadModelFromFiles } from '../../src/worker/modelLoader';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('modelCard', () => {
  it('carries the architecture name as data, variant and all', async () => {
    const built = buildPreActResNet18({ ...RESNET18_CIFAR10, width: 4, finalBn: true, inputShape: [16, 16, 3] }, 1);
    const bytes = writeSafetensors(await stateDictFromModel(built));
    built.dispose();
    const up = await loadModelFromFiles([{ name: 'net.safetensors', bytes: bytes.slice().buffer }], {});
    expect(up.description).toMatch(/^PreAct-ResNet-18 \(width 4, final BN\), 10 classes/);
    const { card, target, attack } = modelCard({ model: up.model, manifest: null, source: 'upload', description: up.description, options: { target: 3, attack: 'blend' }, trojanPatch: null });
    expect(card.arch).toBe('PreAct-ResNet-18 (width 4, final BN)');
    expect(card.title).toBe('Your model (PreAct-ResNet-18 (width 4, final BN))');
    expect([target, attack?.name, card.classNames[0]]).toEqual([3, 'blend', 'airplane']);
    expect(() => modelCard({ model: up.model, manifest: null, source: 'upload', options: { target: 10 }, trojanPatch: null })).toThrow('target class 10 does not exist: the model has 10 classes (0-9)');
    expect(() => modelCard({ model: up.model, manifest: null, source: 'upload', options: { classNames: ['a', 'b'] }, trojanPatch: null })).toThrow('2 class names given but the model has 10 outputs');
    up.model.dispose();
  });
});
