/**
 * Data and attack arguments of the CLI: a data set is an image folder, an MCLDSET1 shard file, or the aliases
 * cifar10:train / cifar10:test; an attack is a name (plus the Trojan patch file, read from the shared folder by
 * default).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../../engine/data/dataset';
import { decodeShard } from '../../engine/data/shard';
import { getAttack, isAttackName } from '../../engine/attacks/registry';
import type { Attack } from '../../engine/attacks/types';
import { loadCifar10 } from './cifar';
import { loadImageFolder } from './imageFolder';
import { type ImportFit, importImages } from './imageImport';
import { loadTrojanPatch } from './npz';
import { sharedDir } from './paths';

/**
 * Loads a data set named on the command line: cifar10:train / cifar10:test, an MCLDSET1 shard, a .zip, or a
 * folder. With `fit` (the model's input size and classes), folders and zips go through the shared import rules:
 * any image size (resized), class folders at any depth or a labels.csv, class names matched to the model's.
 * Without it, a folder must be `<class>/<image>` of one size (read as is).
 * @throws Error saying what was expected when the path is missing or holds no images
 */
export async function loadDataArg(spec: string, fit?: ImportFit): Promise<Dataset> {
  if (spec === 'cifar10:test' || spec === 'cifar10:train') return loadCifar10(spec.slice(8) as 'train' | 'test');
  if (!fs.existsSync(spec)) throw new Error(`data not found: ${spec} (expected an image folder <class>/<image>, a .zip of one, a .mcld shard, or cifar10:test)`);
  const isZip = fs.statSync(spec).isFile() && /\.zip$/i.test(spec);
  if (fs.statSync(spec).isFile() && !isZip) {
    try {
      return decodeShard(fs.readFileSync(spec));
    } catch (e) {
      throw new Error(`${spec}: ${(e as Error).message}`);
    }
  }
  if (fit) return importImages(spec, fit);
  if (isZip) return importImages(spec, { height: 32, width: 32 });
  const { dataset, skipped } = await loadImageFolder(spec);
  if (skipped.length) process.stderr.write(`note: skipped ${skipped.length} non-image file(s) in ${spec} (e.g. ${skipped[0]})\n`);
  return dataset;
}

/** Default location of the Trojan patch. */
export function defaultTrojanPatch(): string {
  return path.join(sharedDir(), 'triggers', 'trojan_square_cifar10.npz');
}

/** Builds a known attack by name (for trojan, from `triggerFile` or the shared patch). */
export async function attackFromName(name: string, triggerFile?: string): Promise<Attack> {
  if (!isAttackName(name) || name === 'mask') {
    throw new Error(`unknown attack "${name}": expected one of badnets, trojan, blend, sig, cl`);
  }
  if (name === 'trojan') return getAttack('trojan', { patch: await loadTrojanPatch(triggerFile ?? defaultTrojanPatch()) });
  return getAttack(name);
}
