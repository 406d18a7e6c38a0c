/**
 * The architectures users can upload as PyTorch state_dicts, in one registry: WRN-d-k (model/wrn.ts), CIFAR
 * ResNet-18 and PreAct-ResNet-18 (model/resnet.ts), with their names and the TF.js layer -> PyTorch key map.
 * The other jobs live beside it: reading and checking a state_dict (stateDictCheck.ts), loading one
 * (stateDictLoad.ts), recognising an engine-built model (introspect.ts) and exporting one (stateDictExport.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { buildPreActResNet18, buildResNet18, resnetTorchKeys, type KeyStyle, type ResNetConfig, type TorchKind } from './resnet';
import { wrnTorchKeys } from './torchWeights';
import { buildWrn, type WrnConfig } from './wrn';

export type { DetectOptions, KeyStyle } from './resnet';

/** The architectures the engine can rebuild from a PyTorch state_dict. */
export type ArchName = 'wrn' | 'resnet18' | 'preactresnet18';

/** An architecture with its configuration and the PyTorch key spellings its state_dict uses. */
export type ArchInfo =
  | { arch: 'wrn'; config: WrnConfig; keys: KeyStyle }
  | { arch: 'resnet18' | 'preactresnet18'; config: ResNetConfig; keys: KeyStyle };

/** What {@link detectArchitecture} found, with a description such as "PreAct-ResNet-18, 10 classes, 11.17 M parameters". */
export type DetectedArchitecture = ArchInfo & { description: string };

/** A model rebuilt from a state_dict. */
export type LoadedModel = DetectedArchitecture & { model: tf.LayersModel; params: number };

/** The registry: a label and a builder per architecture. */
export const ARCHITECTURES: { [A in ArchName]: { label: string; build: (config: Extract<ArchInfo, { arch: A }>['config'], seed?: number) => tf.LayersModel } } = {
  wrn: { label: 'WRN-d-k', build: buildWrn },
  resnet18: { label: 'ResNet-18', build: buildResNet18 },
  preactresnet18: { label: 'PreAct-ResNet-18', build: buildPreActResNet18 },
};

/** Builds a freshly initialized model of the given architecture. */
export function buildArchitecture(info: ArchInfo, seed = 0): tf.LayersModel {
  if (info.arch === 'wrn') return buildWrn(info.config, seed);
  return info.arch === 'resnet18' ? buildResNet18(info.config, seed) : buildPreActResNet18(info.config, seed);
}

/** TF.js layer name -> PyTorch prefix and kind, in PyTorch's state_dict order. */
export function torchKeyMap(info: ArchInfo): Map<string, { prefix: string; kind: TorchKind }> {
  return info.arch === 'wrn' ? wrnTorchKeys(info.config) : resnetTorchKeys(info.arch === 'preactresnet18', info.config, info.keys);
}

/** "11.17 M parameters" / "175.1 k parameters". */
function formatParams(p: number): string {
  return p >= 1e6 ? `${(p / 1e6).toFixed(2)} M parameters` : `${(p / 1e3).toFixed(1)} k parameters`;
}

/** The architecture's name with its variant: "WRN-16-1", "ResNet-18 (width 8)", "PreAct-ResNet-18 (final BN)". */
export function architectureName(info: ArchInfo): string {
  if (info.arch === 'wrn') return `WRN-${info.config.depth}-${info.config.widen}`;
  const variant = [info.config.width !== 64 ? `width ${info.config.width}` : '', info.arch === 'preactresnet18' && info.config.finalBn ? 'final BN' : ''].filter(Boolean);
  return ARCHITECTURES[info.arch].label + (variant.length ? ` (${variant.join(', ')})` : '');
}

/** A one-line human description: name, variant, classes and parameter count. */
export function describeArchitecture(info: ArchInfo, params: number): string {
  return `${architectureName(info)}, ${info.config.numClasses} classes, ${formatParams(params)}`;
}

