/**
 * Node loader of an image folder, `<root>/<class>/*.{jpg,jpeg,png}`, into an engine {@link Dataset}, as
 * torchvision's ImageFolder: class folders sorted by name give the label ids (CIFAR-10: 0 airplane ... 9 truck),
 * files inside a class are taken in name order. Names are compared by UTF-16 code units (Python's `sorted`).
 *
 * Decisions:
 * - Every image becomes RGB (3 channels): grayscale is replicated, an alpha channel is dropped (as PIL's
 *   `convert('RGB')`), 16-bit PNGs are scaled to 8 bits.
 * - Entries that are not images (other extensions, hidden files, sub-folders inside a class folder) are skipped
 *   and listed in `skipped`; a file with an image extension that fails to decode is an error.
 * - All images must share one size: `expectSize` when given, otherwise the first image's; a mismatch is an error
 *   naming the file and both sizes. Nothing is resized.
 * - JPEGs are decoded by jpeg-js, whose chroma upsampling and IDCT differ slightly from libjpeg (PIL, browsers).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { createDataset, type Dataset } from '../../engine/data/dataset';
import { checkImageHeader, MAX_IMAGE_PIXELS } from '../../engine/io/imageHeader';
import { decodeShard, encodeShard, readShardHeader } from '../../engine/data/shard';

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Take at most this many files per class (the first ones by name). */
  limitPerClass?: number;
  /** Required [height, width]; default: the size of the first image. */
  expectSize?: [number, number];
}

/** Result of {@link loadImageFolder}. */
export interface ImageFolderResult {
  dataset: Dataset;
  /** Paths relative to root of the entries that were not loaded because they are not images. */
  skipped: string[];
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The listing of an image folder: class names and, per class, the image files in load order. */
export interface ImageFolderListing {
  classNames: string[];
  /** Paths relative to root, [class][k]. */
  files: string[][];
  skipped: string[];
}

/** Lists `<root>/<class>/<image>` without decoding anything; throws on a missing, empty or class-less root. */
export async function listImageFolder(root: string, limitPerClass?: number): Promise<ImageFolderListing> {
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new Error(`Image folder not found: ${root}`);
  }
  if (!info.isDirectory()) throw new Error(`Not a directory: ${root}`);
  const entries = (await readdir(root, { withFileTypes: true })).sort((a, b) => byName(a.name, b.name));
  if (entries.length === 0) throw new Error(`Image folder is empty: ${root} (expected one sub-folder per class)`);
  const skipped: string[] = [];
  const classNames: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith('.')) classNames.push(e.name);
    else skipped.push(e.name);
  }
  if (classNames.length === 0) {
    throw new Error(`Image folder has no class sub-folders: ${root} (expected <root>/<class>/<image>.jpg|png)`);
  }
  const files: string[][] = [];
  for (const cls of classNames) {
    const inner = (await readdir(path.join(root, cls), { withFileTypes: true })).sort((a, b) => byName(a.name, b.name));
    const images: string[] = [];
    for (const e of inner) {
      const rel = path.join(cls, e.name);
      if (e.isFile() && !e.name.startsWith('.') && IMAGE_EXT.test(e.name)) images.push(rel);
      else skipped.push(rel);
    }
    if (images.length === 0) throw new Error(`Class folder has no .jpg/.jpeg/.png images: ${path.join(root, cls)}`);
    files.push(limitPerClass !== undefined ? images.slice(0, limitPerClass) : images);
  }
  return { classNames, files, skipped };
}

/** Decodes one JPEG or PNG into RGB pixels [height, width, 3] uint8. `name` labels errors. */
export function decodeImageRgb(bytes: Uint8Array, name: string): { height: number; width: number; rgb: Uint8Array } {
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  checkImageHeader(bytes, name);
  try {
    if (/\.png$/i.test(name)) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)); // always RGBA 8-bit
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (e) {
    throw new Error(`Cannot decode image ${name}: ${(e as Error).message}`);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; q < rgb.length; p += 4, q += 3) {
    rgb[q] = rgba[p];
    rgb[q + 1] = rgba[p + 1];
    rgb[q + 2] = rgba[p + 2];
  }
  return { height, width, rgb };
}

/** Loads `<root>/<class>/*.{jpg,jpeg,png}` into a Dataset ([n, H, W, 3] uint8, labels by sorted class folder). */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<ImageFolderResult> {
  const { limitPerClass, expectSize } = options;
  if (limitPerClass !== undefined && !(Number.isInteger(limitPerClass) && limitPerClass > 0)) {
    throw new Error(`loadImageFolder: limitPerClass must be a positive integer, got ${limitPerClass}`);
  }
  const listing = await listImageFolder(root, limitPerClass);
  const all = listing.files.flatMap((list, label) => list.map((rel) => ({ rel, label })));
  let size: [number, number] | undefined = expectSize;
  let sizeFrom = 'expectSize';
  let images = new Uint8Array(0);
  const labels = new Int32Array(all.length);
  const chunk = 64; // read files concurrently in small groups, decode in order
  for (let start = 0; start < all.length; start += chunk) {
    const group = all.slice(start, start + chunk);
    const buffers = await Promise.all(group.map((f) => readFile(path.join(root, f.rel))));
    group.forEach((f, k) => {
      const i = start + k;
      const img = decodeImageRgb(buffers[k], f.rel);
      if (!size) {
        size = [img.height, img.width];
        sizeFrom = `the first image (${f.rel})`;
      }
      if (img.height !== size[0] || img.width !== size[1]) {
        throw new Error(
          `Image ${path.join(root, f.rel)} is ${img.height}x${img.width} (HxW), expected ${size[0]}x${size[1]} from ${sizeFrom}`,
        );
      }
      if (i === 0 || images.length === 0) images = new Uint8Array(all.length * size[0] * size[1] * 3);
      images.set(img.rgb, i * img.rgb.length);
      labels[i] = f.label;
    });
  }
  const [height, width] = size ?? [0, 0];
  const dataset = createDataset({ images, labels, height, width, channels: 3, classNames: listing.classNames });
  return { dataset, skipped: listing.skipped };
}

/** Options of {@link loadImageFolderCached}. */
export interface CachedImageFolderOptions extends ImageFolderOptions {
  /** Rebuild the cache even when it is up to date. */
  refresh?: boolean;
}

/** Result of {@link loadImageFolderCached}. */
export interface CachedImageFolderResult extends ImageFolderResult {
  /** True when the dataset came from the cache file. */
  fromCache: boolean;
}

/**
 * Fingerprint of what a load would read: the load options and every listed file's path, size and mtime (sha-256).
 * Renaming, adding, removing or rewriting an image changes it.
 */
async function fingerprint(root: string, listing: ImageFolderListing, options: ImageFolderOptions): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: 1, limitPerClass: options.limitPerClass ?? null, expectSize: options.expectSize ?? null }));
  hash.update(JSON.stringify(listing.classNames));
  const files = listing.files.flat();
  for (let start = 0; start < files.length; start += 256) {
    const group = files.slice(start, start + 256);
    const stats = await Promise.all(group.map((rel) => stat(path.join(root, rel))));
    group.forEach((rel, k) => hash.update(`\n${rel}\t${stats[k].size}\t${Math.round(stats[k].mtimeMs)}`));
  }
  return hash.digest('hex');
}

/**
 * {@link loadImageFolder} with a cache in the MCLDSET1 shard format: when `cacheFile` exists and its header's
 * fingerprint matches the folder (file list, sizes, mtimes, options), the shard is decoded instead (the 10,000-image
 * CIFAR-10 test set then loads in well under a second); otherwise the folder is decoded and the cache (re)written
 * atomically (temp file + rename). A corrupt cache file is rebuilt, not an error. `skipped` is empty on a cache hit.
 */
export async function loadImageFolderCached(
  root: string,
  cacheFile: string,
  options: CachedImageFolderOptions = {},
): Promise<CachedImageFolderResult> {
  const listing = await listImageFolder(root, options.limitPerClass);
  const print = await fingerprint(root, listing, options);
  if (!options.refresh) {
    let bytes: Uint8Array | undefined;
    try {
      bytes = new Uint8Array(await readFile(cacheFile));
    } catch {
      bytes = undefined; // no cache yet
    }
    if (bytes) {
      try {
        if (readShardHeader(bytes).meta?.fingerprint === print) {
          return { dataset: decodeShard(bytes), skipped: [], fromCache: true };
        }
      } catch {
        // corrupt or foreign cache file: fall through and rebuild it
      }
    }
  }
  const result = await loadImageFolder(root, options);
  const shard = encodeShard(result.dataset, { source: 'imageFolder', root: path.resolve(root), fingerprint: print });
  await mkdir(path.dirname(path.resolve(cacheFile)), { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  await writeFile(tmp, shard);
  await rename(tmp, cacheFile);
  return { ...result, fromCache: false };
}
