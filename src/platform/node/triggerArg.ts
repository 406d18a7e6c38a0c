/**
 * The trigger of `mcldef attack` (a drawn RGBA PNG or a shipped attack's name), and the way a planted model's
 * trigger travels with it: manifest.json's `attack.file` names a PNG beside the model (attack "mask"), which
 * `purify` and `eval` then stamp to measure the true ASR.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { rgbaAttack, rgbaCoverage } from '../../engine/attacks/rgba';
import type { Attack, AttackName } from '../../engine/attacks/types';
import { attackFromName } from './data';
import type { ModelManifest } from './modelFiles';
import { pathKind, READ_LIMITS, readRegularFile } from './safeFs';

/** The attacks `attack --trigger` takes by name (mask needs its PNG). */
export const PLANTABLE_NAMES = ['badnets', 'trojan', 'blend', 'sig', 'cl'] as const;

/** The file name a planted model's PNG trigger gets beside model.json. */
export const TRIGGER_FILE = 'trigger.png';

/** A trigger read from --trigger. */
export interface TriggerArg {
  attack: Attack;
  /** The attack's name as a manifest records it ('mask' for a PNG). */
  name: AttackName;
  /** The PNG's bytes (re-encoded from its pixels) when the trigger was drawn, to travel beside the model. */
  png: Uint8Array | null;
  /** Share of the image the trigger touches (PNG only). */
  coverage: number | null;
}

/**
 * Reads --trigger: one of {@link PLANTABLE_NAMES}, or an RGBA PNG of the model's input size (alpha is the mask).
 * @throws Error naming the file and what is wrong: another size, every pixel transparent, the whole image covered
 */
export async function loadTriggerArg(spec: string, height: number, width: number): Promise<TriggerArg> {
  if ((PLANTABLE_NAMES as readonly string[]).includes(spec)) {
    return { attack: await attackFromName(spec), name: spec as AttackName, png: null, coverage: null };
  }
  const kind = pathKind(spec);
  if (kind === 'missing') throw new Error(`--trigger ${spec}: no such file, and not an attack name (expected a ${height}x${width} RGBA PNG or one of ${PLANTABLE_NAMES.join(', ')})`);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(readRegularFile(spec, READ_LIMITS.image)));
  } catch (e) {
    throw new Error(`--trigger ${spec}: ${(e as Error).message} (expected a ${height}x${width} RGBA PNG: alpha 0 keeps the pixel, 255 replaces it)`);
  }
  if (png.width !== width || png.height !== height) {
    throw new Error(`--trigger ${spec}: the PNG is ${png.width}x${png.height} pixels but the model takes ${width}x${height} images: draw the trigger at the model's input size`);
  }
  const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length);
  let attack: Attack;
  try {
    attack = rgbaAttack(rgba, height, width, { refuseFullCover: true });
  } catch (e) {
    throw new Error(`--trigger ${spec}: ${(e as Error).message}`);
  }
  return { attack, name: 'mask', png: new Uint8Array(PNG.sync.write(png)), coverage: rgbaCoverage(rgba) };
}

/**
 * The trigger file a model's manifest names in `attack.file` (a plain file name beside the model), or undefined.
 * @throws Error when the name is not a plain file name (no folders, no "..")
 */
export function manifestTriggerFile(modelPath: string, manifest: ModelManifest | null): string | undefined {
  const file = (manifest?.attack as { file?: unknown } | undefined)?.file;
  if (file === undefined) return undefined;
  if (typeof file !== 'string' || file === '' || file !== path.basename(file) || file.startsWith('.') || file.includes('\\')) {
    throw new Error(`the model's manifest.json names the trigger file ${JSON.stringify(file)}: it must be a plain file name beside the model`);
  }
  const dir = fs.existsSync(modelPath) && fs.statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  return path.join(dir, file);
}
