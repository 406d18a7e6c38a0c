/**
 * Turning the user's image files (a picked folder, loose files with a labels file, or .zip archives of either)
 * into an engine Dataset at the model's input size. Runs in the engine worker (or the main-thread fallback):
 * images are decoded by the browser (createImageBitmap + OffscreenCanvas, any format it reads) and resized by the
 * engine's own resizer (src/engine/data/resize.ts), so every browser gives the same pixels for the same bitmap.
 */
import { createDataset, type Dataset } from '../engine/data/dataset';
import { type ImportPlan, LABELS_FILE, planImport, unsafePath } from '../engine/data/importPlan';
import { resizeToRgb } from '../engine/data/resize';
import { checkImageHeader } from '../engine/io/imageHeader';
import { looksLikeZip, readZip } from '../engine/io/zipReader';

/** Bytes of all files of one import at most (memory). */
export const MAX_IMPORT_BYTES = 1024 * 2 ** 20;

/** One file as the page sends it: its relative path (folder picks keep the folders) and its bytes. */
export interface InputFile {
  name: string;
  bytes: ArrayBuffer;
}

/** Options of {@link importImageFiles}. */
export interface ImageImportOptions {
  height: number;
  width: number;
  modelClassNames?: readonly string[];
  numClasses?: number;
  maxImages?: number;
  /** Called every few images with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Checked between images; true stops the import with an AbortError. */
  cancelled?: () => boolean;
}

/** What an import produced. */
export interface ImageImport {
  dataset: Dataset;
  plan: ImportPlan;
  /** Files with an image name that the browser could not decode (left out). */
  failed: string[];
}

interface Entry {
  name: string;
  read: () => Promise<Uint8Array>;
}

/**
 * Lists the files, opening .zip archives (their entries take the archive's place), and the archives' folders (so
 * an empty class folder still counts). Refuses archives whose entries would unpack to more than an import may hold.
 */
function expand(files: InputFile[]): { entries: Entry[]; dirs: string[] } {
  const out: Entry[] = [];
  const dirs: string[] = [];
  let unpacked = 0;
  for (const f of files) {
    const bytes = new Uint8Array(f.bytes);
    if (/\.zip$/i.test(f.name) || looksLikeZip(bytes)) {
      let entries;
      try {
        entries = readZip(bytes, { maxEntrySize: 64 * 2 ** 20 });
      } catch (e) {
        throw new Error(`${f.name}: ${(e as Error).message}`);
      }
      for (const e of entries) {
        if (e.isDirectory) {
          dirs.push(e.name.replace(/\/+$/, ''));
          continue;
        }
        unpacked += e.size;
        out.push({
          name: e.name,
          read: () =>
            e.read().catch((err: Error) => {
              throw new Error(`${f.name}: ${err.message}`);
            }),
        });
      }
      if (unpacked > MAX_IMPORT_BYTES) {
        throw new Error(`${f.name}: its files unpack to ${(unpacked / 2 ** 20).toFixed(0)} MB, more than the ${MAX_IMPORT_BYTES / 2 ** 20} MB one import may hold; pick a smaller sample`);
      }
    } else {
      out.push({ name: f.name, read: async () => bytes });
    }
  }
  return { entries: out, dirs };
}

/** Decodes one image file into RGBA pixels with the browser's decoders. */
async function decodeRgba(bytes: Uint8Array): Promise<{ data: Uint8ClampedArray; height: number; width: number }> {
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart]));
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
    if (!ctx) throw new Error('no 2D canvas in this browser');
    ctx.drawImage(bitmap, 0, 0);
    return { data: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, height: bitmap.height, width: bitmap.width };
  } finally {
    bitmap.close();
  }
}

/**
 * Imports image files as a Dataset of `height` x `width` RGB images.
 * @throws Error saying what was expected (no images, layout, too many images or bytes, nothing decodable);
 *   an Error named 'AbortError' when cancelled
 */
export async function importImageFiles(files: InputFile[], opts: ImageImportOptions): Promise<ImageImport> {
  const total = files.reduce((s, f) => s + f.bytes.byteLength, 0);
  if (total > MAX_IMPORT_BYTES) throw new Error(`${(total / 2 ** 20).toFixed(0)} MB of files: at most ${MAX_IMPORT_BYTES / 2 ** 20} MB can be imported at once; pick a smaller sample`);
  const { entries, dirs } = expand(files);
  const labelsEntry = entries.find((e) => LABELS_FILE.test(e.name) && !unsafePath(e.name));
  const labelsText = labelsEntry ? new TextDecoder().decode(await labelsEntry.read()) : undefined;
  const plan = planImport(
    entries.map((e) => e.name),
    { labelsText, modelClassNames: opts.modelClassNames, numClasses: opts.numClasses, maxImages: opts.maxImages, dirs },
  );
  const { height: h, width: w } = opts;
  const size = h * w * 3;
  const images = new Uint8Array(plan.items.length * size);
  const labels = new Int32Array(plan.items.length);
  const failed: string[] = [];
  let refusal = '';
  let n = 0;
  for (let k = 0; k < plan.items.length; k++) {
    if (opts.cancelled?.()) {
      const err = new Error('the image import was cancelled');
      err.name = 'AbortError';
      throw err;
    }
    const { index, label } = plan.items[k];
    try {
      let bytes: Uint8Array;
      // A zip entry that inflates past its size, too many pixels, a truncated file or a format whose header is not
      // checked: refused before the browser decodes it, and the first such reason is told.
      try {
        bytes = await entries[index].read();
        checkImageHeader(bytes, entries[index].name);
      } catch (e) {
        refusal ||= (e as Error).message;
        throw e;
      }
      const img = await decodeRgba(bytes);
      images.set(resizeToRgb(img.data, img.height, img.width, 4, h, w), n * size);
      labels[n++] = label;
    } catch {
      failed.push(entries[index].name);
    }
    if (k % 16 === 15 || k === plan.items.length - 1) opts.onProgress?.(k + 1, plan.items.length);
  }
  if (n === 0) throw new Error(refusal ? `none of the ${plan.items.length} image file(s) could be used: ${refusal}` : `none of the ${plan.items.length} image file(s) could be decoded (e.g. "${failed[0]}"): are they really images?`);
  if (failed.length) {
    plan.warnings.push(`${failed.length} file(s) could not be decoded as images and were left out, e.g. "${failed[0]}"${refusal ? ` (${refusal})` : ''}`);
    plan.counts.fill(0);
    for (let i = 0; i < n; i++) plan.counts[labels[i]]++;
  }
  const dataset = createDataset({ images: images.slice(0, n * size), labels: labels.slice(0, n), height: h, width: w, channels: 3, classNames: plan.classNames });
  return { dataset, plan, failed };
}
