/**
 * The CLI's counterpart of the page's image import (src/worker/imageImport.ts): a folder (any depth, class
 * folders or a labels file) or a .zip of one, planned by the shared rules (src/engine/data/importPlan.ts),
 * decoded with pngjs / jpeg-js and resized by the engine's resizer to the model's input size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createDataset, type Dataset } from '../../engine/data/dataset';
import { LABELS_FILE, planImport, unsafePath } from '../../engine/data/importPlan';
import { resizeToRgb } from '../../engine/data/resize';
import { readZip, type ZipEntry } from '../../engine/io/zipReader';
import { decodeImageRgb } from './imageFolder';
import { READ_LIMITS, readRegularFile } from './safeFs';

/** Size and classes the imported images must fit. */
export interface ImportFit {
  height: number;
  width: number;
  classNames?: readonly string[];
  numClasses?: number;
}

interface Entry {
  name: string;
  /** Bytes once read (a zip entry's declared uncompressed size). */
  size: number;
  read: () => Promise<Uint8Array>;
}

/** Most bytes the images of one import may unpack to (a zip of small entries that inflate far is refused up front). */
export const MAX_IMPORT_BYTES = 2 * 2 ** 30;

/** The regular files under `root` (FIFOs, devices and symlinks are left out) and every folder, empty ones too. */
function listFolder(root: string): { files: Entry[]; dirs: string[] } {
  const files: Entry[] = [];
  const dirs: string[] = [];
  const rel = (full: string) => path.relative(root, full).split(path.sep).join('/');
  const walk = (dir: string, depth: number) => {
    if (depth > 32) throw new Error(`${root}: folders nested deeper than 32 levels`);
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        dirs.push(rel(full));
        walk(full, depth + 1);
      } else if (e.isFile()) files.push({ name: rel(full), size: 0, read: async () => readRegularFile(full, READ_LIMITS.image) });
    }
  };
  walk(root, 0);
  return { files, dirs };
}

/**
 * Imports images from a folder or a .zip, resized to `fit`; prints warnings (skipped files, imbalance) to stderr.
 * @throws Error saying what was expected (see planImport), or naming an image that cannot be decoded
 */
export async function importImages(spec: string, fit: ImportFit): Promise<Dataset> {
  let entries: Entry[];
  let dirs: string[];
  if (fs.statSync(spec).isDirectory()) ({ files: entries, dirs } = listFolder(spec));
  else {
    let zip;
    try {
      zip = readZip(readRegularFile(spec, READ_LIMITS.data), { maxEntrySize: READ_LIMITS.image });
    } catch (e) {
      throw new Error(`${spec}: ${(e as Error).message}`);
    }
    const read = (e: ZipEntry) =>
      e.read().catch((err: Error) => {
        throw new Error(`${spec}: ${err.message}`);
      });
    entries = zip.filter((e) => !e.isDirectory).map((e) => ({ name: e.name, size: e.size, read: () => read(e) }));
    dirs = zip.filter((e) => e.isDirectory).map((e) => e.name.replace(/\/+$/, ''));
  }
  const labels = entries.find((e) => LABELS_FILE.test(e.name) && !unsafePath(e.name));
  const plan = planImport(entries.map((e) => e.name), {
    labelsText: labels ? new TextDecoder().decode(await labels.read()) : undefined,
    modelClassNames: fit.classNames,
    numClasses: fit.numClasses,
    dirs,
  });
  const unpacked = plan.items.reduce((a, it) => a + entries[it.index].size, 0);
  if (unpacked > MAX_IMPORT_BYTES) throw new Error(`${spec}: its images unpack to ${(unpacked / 2 ** 30).toFixed(1)} GiB, more than the ${MAX_IMPORT_BYTES / 2 ** 30} GiB one import may hold`);
  const size = fit.height * fit.width * 3;
  const images = new Uint8Array(plan.items.length * size);
  for (let k = 0; k < plan.items.length; k++) {
    const e = entries[plan.items[k].index];
    if (!/\.(png|jpe?g)$/i.test(e.name)) throw new Error(`${e.name}: the CLI decodes PNG and JPEG images only (convert it, or use the page, which reads every format the browser does)`);
    const img = decodeImageRgb(await e.read(), e.name);
    images.set(resizeToRgb(img.rgb, img.height, img.width, 3, fit.height, fit.width), k * size);
  }
  for (const w of plan.warnings) process.stderr.write(`note: ${spec}: ${w}\n`);
  return createDataset({ images, labels: plan.items.map((i) => i.label), height: fit.height, width: fit.width, channels: 3, classNames: plan.classNames });
}
