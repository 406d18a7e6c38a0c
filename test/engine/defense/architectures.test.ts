/**
 * Every defense runs on every uploadable architecture: tiny ResNet-18 and PreAct-ResNet-18 (width 4, 8x8 inputs)
 * go through MCLDef (stage 1 + 2, probe features) and NAD (attention at their last three stages) on the CPU
 * backend, leaving no tensors behind, and the purified model exports to a PyTorch state_dict.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { driveDefense, runDefense } from '../../../src/engine/defense/run';
import { architectureOf, groupOutputs } from '../../../src/engine/model/introspect';
import { stateDictFromModel } from '../../../src/engine/model/stateDictExport';
import { buildPreActResNet18, buildResNet18, type ResNetConfig } from '../../../src/engine/model/resnet';
import { CIFAR10_MEAN, CIFAR10_STD } from '../../../src/engine/data/cifar10';
import { initNodeBackend } from '../../../src/platform/node/backend';
import { toyData, toyTrigger } from './toy';

const cfg: ResNetConfig = { numClasses: 4, inputShape: [8, 8, 3], mean: [...CIFAR10_MEAN], std: [...CIFAR10_STD], width: 4, finalBn: true };
const clean = toyData(16);
const evalSet = toyData(12, { seed: 5 });

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('defenses on ResNet architectures', () => {
  for (const [name, build] of [['resnet18', buildResNet18], ['preactresnet18', buildPreActResNet18]] as const) {
    it(`${name}: MCLDef and NAD run, nothing leaks, the result exports`, async () => {
      const model = build(cfg, 3);
      expect(architectureOf(model)?.arch).toBe(name);
      expect(groupOutputs(model)).toHaveLength(3);
      const before = tf.memory().numTensors;
      for (const method of ['mcldef', 'nad'] as const) {
        const events: string[] = [];
        const result = await driveDefense(
          runDefense(
            { method, target: 1, seed: 1, batchSize: 8, epochs: 1, maxStepsPerEpoch: 2, inversion: { epochs: 1, batchSize: 8 }, evalSize: 8, probePerClass: 1, nad: { teacherEpochs: 1 } },
            { model, clean, evalSet, trueTrigger: toyTrigger, yieldEvery: 0 },
          ),
          (e) => events.push(e.type),
        );
        expect(events, method).toContain('purify-step');
        expect(events).toContain('done');
        if (method === 'mcldef') expect(events).toContain('probe-features');
        const sd = await stateDictFromModel(result.model);
        expect(sd.size).toBeGreaterThan(40);
        result.model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }, 120_000);
  }
});
