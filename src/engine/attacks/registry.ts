/**
 * The attack registry: build an attack by name (CLI flags, model manifests, the UI's attack picker) and describe
 * the attacks without building them (model cards).
 */
import { MASK_DESCRIPTION, type MaskParams, maskAttack } from './mask';
import { badnets, blend, cleanLabel } from './patch';
import { sig, type SigParams } from './sig';
import { TROJAN_DESCRIPTION, trojan, type TrojanParams } from './trojan';
import { ATTACK_NAMES, type Attack, type AttackName, type PoisonKind } from './types';

/** The parameters each attack takes; `{}`-compatible ones are optional in {@link getAttack}. */
export interface AttackParams {
  badnets: Record<string, never>;
  cl: Record<string, never>;
  blend: { alpha?: number };
  sig: SigParams;
  trojan: TrojanParams;
  mask: MaskParams;
}

/** What the UI shows about an attack before one is built. */
export interface AttackInfo {
  name: AttackName;
  title: string;
  kind: PoisonKind;
  /** Plain-language summary for the model card. */
  description: string;
  /** Where the trigger sits, for a teacher's explanation. */
  trigger: string;
}

/** Descriptions of every attack, keyed by name. */
export const ATTACK_INFO: Readonly<Record<AttackName, AttackInfo>> = {
  badnets: {
    name: 'badnets',
    title: 'BadNets',
    kind: 'poison-label',
    description: badnets().description,
    trigger: '3x3 black/white grid, bottom-right corner, all channels',
  },
  trojan: {
    name: 'trojan',
    title: 'Trojan',
    kind: 'poison-label',
    description: TROJAN_DESCRIPTION,
    trigger: 'additive 3x3 colour patch at rows/cols 25-27',
  },
  blend: {
    name: 'blend',
    title: 'Blend',
    kind: 'poison-label',
    description: blend().description,
    trigger: '3x3 patch at rows/cols 18-20 blended at alpha 0.2',
  },
  sig: {
    name: 'sig',
    title: 'SIG',
    kind: 'clean-label',
    description: sig().description,
    trigger: 'sinusoid 20 * sin(2 pi 6 col / 32) added to every row and channel',
  },
  cl: {
    name: 'cl',
    title: 'Clean-label (CL)',
    kind: 'clean-label',
    description: cleanLabel().description,
    trigger: 'PGD perturbation (offline) plus the BadNets grid',
  },
  mask: {
    name: 'mask',
    title: 'Mask trigger',
    kind: 'poison-label',
    description: MASK_DESCRIPTION,
    trigger: 'mask m [H, W] and pattern p [H, W, C], both in [0, 1]',
  },
};

/** True when `name` is one of {@link ATTACK_NAMES} (for parsing CLI flags and manifests). */
export function isAttackName(name: string): name is AttackName {
  return (ATTACK_NAMES as readonly string[]).includes(name);
}

type ParamsArg<N extends AttackName> = Record<string, never> extends AttackParams[N]
  ? [params?: AttackParams[N]]
  : [params: AttackParams[N]];

/**
 * Builds an attack by name. Trojan needs its patch and mask its mask/pattern; the others take optional settings.
 * Throws on an unknown name, listing the known ones.
 */
export function getAttack<N extends AttackName>(name: N, ...args: ParamsArg<N>): Attack {
  const params = (args[0] ?? {}) as AttackParams[AttackName];
  switch (name as AttackName) {
    case 'badnets':
      return badnets();
    case 'cl':
      return cleanLabel();
    case 'blend':
      return blend((params as AttackParams['blend']).alpha ?? 0.2);
    case 'sig':
      return sig(params as SigParams);
    case 'trojan':
      if (!(params as Partial<TrojanParams>).patch) throw new Error('getAttack("trojan"): params.patch is required (the [3,32,32] patch)');
      return trojan(params as TrojanParams);
    case 'mask':
      if (!(params as Partial<MaskParams>).mask) throw new Error('getAttack("mask"): params.mask and params.pattern are required');
      return maskAttack(params as MaskParams);
    default:
      throw new Error(`Unknown attack ${JSON.stringify(name)}; known: ${ATTACK_NAMES.join(', ')}`);
  }
}
