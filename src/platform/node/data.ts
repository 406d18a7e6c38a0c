/**
 * Data and attack arguments of the CLI: a data set is an image folder, an MCLDSET1 shard file, or the aliases
 * cifar10:train / cifar10:test; an attack is a name (plus the Trojan patch file, read from the shared folder by
 * default).
 */
import path from 'node:path';
import type { Dataset } from '../../engine/data/dataset';
import { decodeShard } from '../../engine/data/shard';
import { PNG } from 'pngjs';
import { getAttack, isAttackName } from '../../engine/attacks/registry';
import { rgbaAttack } from '../../engine/attacks/rgba';
import type { SigParams } from '../../engine/attacks/sig';
import type { Attack } from '../../engine/attacks/types';
import { loadCifar10 } from './cifar';
import { loadImageFolder } from './imageFolder';
import { type ImportFit, importImages } from './imageImport';
import { loadTrojanPatch } from './npz';
import { sharedDir } from './paths';
import { pathKind, READ_LIMITS, readRegularFile, readRegularText } from './safeFs';

/**
 * Loads a data set named on the command line: cifar10:train / cifar10:test, an MCLDSET1 shard, a .zip, or a
 * folder. With `fit` (the model's input size and classes), folders and zips go through the shared import rules:
 * any image size (resized), class folders at any depth or a labels.csv, class names matched to the model's.
 * Without it, a folder must be `<class>/<image>` of one size (read as is).
 * @throws Error saying what was expected when the path is missing or holds no images
 */
export async function loadDataArg(spec: string, fit?: ImportFit): Promise<Dataset> {
  if (spec === 'cifar10:test' || spec === 'cifar10:train') return loadCifar10(spec.slice(8) as 'train' | 'test');
  const kind = pathKind(spec);
  if (kind === 'missing') throw new Error(`data not found: ${spec} (expected an image folder <class>/<image>, a .zip of one, a .mcld shard, or cifar10:test)`);
  if (kind === 'other') throw new Error(`${spec} is not a file or a folder (a FIFO or a device?): expected an image folder, a .zip of one, or a .mcld shard`);
  const isZip = kind === 'file' && /\.zip$/i.test(spec);
  if (kind === 'file' && !isZip) {
    let ds: Dataset;
    try {
      ds = decodeShard(readRegularFile(spec, READ_LIMITS.data));
    } catch (e) {
      throw new Error(`${spec}: ${(e as Error).message}`);
    }
    if (ds.n === 0) throw new Error(`${spec}: the shard holds no images`);
    return ds;
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

/**
 * Builds a known attack by name. `triggerFile`: for trojan the patch (.npz, default the shared one); for mask a
 * trigger drawn as an RGBA PNG of the model's input size (alpha is the mask: 0 keeps the pixel, 255 replaces it,
 * between blends); for sig an optional JSON file `{"delta": 20, "frequency": 6}`.
 */
export async function attackFromName(name: string, triggerFile?: string): Promise<Attack> {
  if (!isAttackName(name)) {
    throw new Error(`unknown attack "${name}": expected one of badnets, trojan, blend, sig, cl, mask (with --trigger FILE.png)`);
  }
  if (name === 'trojan') return getAttack('trojan', { patch: await loadTrojanPatch(triggerFile ?? defaultTrojanPatch()) });
  if (name === 'mask') {
    if (!triggerFile) throw new Error('attack "mask" needs --trigger FILE.png: an RGBA PNG whose alpha is the mask');
    return loadPngTrigger(triggerFile);
  }
  if (name === 'sig' && triggerFile) return getAttack('sig', readSigParams(triggerFile));
  return getAttack(name);
}

/** An RGBA PNG trigger file as a mask attack; the message names the file and what was expected. */
export function loadPngTrigger(file: string): Attack {
  try {
    const png = PNG.sync.read(Buffer.from(readRegularFile(file, READ_LIMITS.image)));
    return rgbaAttack(new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), png.height, png.width);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message} (expected an RGBA PNG trigger: alpha 0 keeps the pixel, 255 replaces it)`);
  }
}

/** SIG's amplitude and frequency from a JSON file. */
function readSigParams(file: string): SigParams {
  const v = JSON.parse(readRegularText(file, READ_LIMITS.json)) as Record<string, unknown>;
  const num = (k: string): number | undefined => {
    if (v[k] === undefined) return undefined;
    if (typeof v[k] !== 'number' || !Number.isFinite(v[k])) throw new Error(`${file}: "${k}" must be a number`);
    return v[k] as number;
  };
  return { delta: num('delta'), frequency: num('frequency') };
}
