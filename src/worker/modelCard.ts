/**
 * What the page says about a loaded model (its {@link ModelCard}), and what the engine keeps with it: class names,
 * the target when stated, the attack when known (to measure the true ASR). Checks that the stated facts fit the
 * model; the caller disposes the model when they do not.
 */
import type * as tf from '@tensorflow/tfjs';
import { getAttack, isAttackName } from '../engine/attacks/registry';
import type { Attack } from '../engine/attacks/types';
import { CIFAR10_CLASSES } from '../engine/data/cifar10';
import { architectureName } from '../engine/model/architectures';
import { architectureOf } from '../engine/model/introspect';
import { describeModel } from '../engine/model/wrn';
import type { ZooManifest } from './modelLoader';
import type { ModelCard, UploadOptions } from './protocol';

/** A loaded model as the loader gave it. */
export interface LoadedForCard {
  model: tf.LayersModel;
  manifest: ZooManifest | null;
  source: 'zoo' | 'upload';
  /** The loader's description of an upload ("WRN-16-1, 10 classes, ... (PyTorch zip checkpoint)"); built here for the zoo. */
  description?: string;
  options: UploadOptions;
  /** A Trojan model's additive patch, shipped beside it. */
  trojanPatch: Float32Array | null;
}

/** The card, and the facts the engine keeps for measuring. */
export interface CardFacts {
  card: ModelCard;
  classNames: string[];
  target: number | null;
  attack: Attack | null;
}

/**
 * Builds the model card from data (the architecture as the engine recognized it, never parsed back out of a
 * description).
 * @throws Error when the class names or the target do not fit the model
 */
export function modelCard(l: LoadedForCard): CardFacts {
  const { model, manifest, options: opts } = l;
  const info = describeModel(model);
  const arch = architectureOf(model);
  const archName = arch ? architectureName(arch) : manifest?.arch ?? model.name;
  const classNames = manifest?.classNames ?? opts.classNames ?? (info.numClasses === 10 ? [...CIFAR10_CLASSES] : Array.from({ length: info.numClasses }, (_, i) => `class ${i}`));
  if (classNames.length !== info.numClasses) throw new Error(`${classNames.length} class names given but the model has ${info.numClasses} outputs`);
  const target = manifest?.target ?? opts.target ?? null;
  if (target !== null && !(Number.isInteger(target) && target >= 0 && target < info.numClasses)) {
    throw new Error(`target class ${target} does not exist: the model has ${info.numClasses} classes (0-${info.numClasses - 1})`);
  }
  let attack: Attack | null = null;
  const name = manifest?.attack?.name === 'none' ? manifest.attack.asrTrigger : manifest?.attack?.name ?? opts.attack;
  if (name === 'trojan' && l.trojanPatch) attack = getAttack('trojan', { patch: l.trojanPatch });
  else if (name && isAttackName(name) && name !== 'trojan' && name !== 'mask') attack = getAttack(name);
  const description = l.description ?? `${archName}, built-in model`;
  const card: ModelCard = {
    name: manifest?.name ?? 'uploaded model',
    source: l.source,
    description,
    title: manifest?.title ?? (l.source === 'upload' ? `Your model (${archName})` : model.name),
    arch: archName,
    params: model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
    inputShape: info.inputShape,
    numClasses: info.numClasses,
    classNames,
    backdoored: manifest?.backdoored ?? true,
    attack: manifest?.attack ? { name: manifest.attack.name, title: manifest.attack.title, description: manifest.attack.description, trigger: manifest.attack.trigger } : null,
    target,
    claimed: manifest?.metrics ? { ba: manifest.metrics.ba, asr: manifest.metrics.asr, n: manifest.metrics.nClean } : null,
  };
  return { card, classNames, target, attack };
}
