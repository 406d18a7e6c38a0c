/**
 * Bringing the user's own model and clean images into the engine, and back to the built-in ones. Files are read
 * here (File -> ArrayBuffer) and transferred to the worker; the engine replaces what it holds only once the new
 * model or data set loaded completely, so a bad file never costs the page what it had.
 */
import type { DataSummary, UploadOptions } from '../worker/protocol';
import { engine, loadDemoData, refreshBefore } from './controller';
import { reportError, store } from './store';

/** A picked or dropped file with the path it had inside a picked/dropped folder. */
export interface PickedFile {
  file: File;
  path: string;
}

/** The files of an <input type=file> (folder picks keep their relative paths). */
export function fromInput(list: FileList | null): PickedFile[] {
  return Array.from(list ?? [], (file) => ({ file, path: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name }));
}

type Entry = { isFile: boolean; isDirectory: boolean; name: string; fullPath: string };
type FileEntry = Entry & { file: (ok: (f: File) => void, fail: (e: unknown) => void) => void };
type DirEntry = Entry & { createReader: () => { readEntries: (ok: (e: Entry[]) => void, fail: (e: unknown) => void) => void } };

async function walk(entry: Entry, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FileEntry).file(ok, fail));
    out.push({ file, path: entry.fullPath.replace(/^\//, '') });
  } else if (entry.isDirectory) {
    const reader = (entry as DirEntry).createReader();
    for (;;) {
      const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

/** The files of a drop, folders walked (Chrome, Edge, Firefox, Safari expose webkitGetAsEntry). */
export async function fromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = Array.from(dt.items, (it) => (it as DataTransferItem & { webkitGetAsEntry?: () => Entry | null }).webkitGetAsEntry?.() ?? null);
  if (entries.every((e) => e === null)) return fromInput(dt.files);
  const out: PickedFile[] = [];
  for (const e of entries) if (e) await walk(e, out);
  return out;
}

async function read(files: PickedFile[]): Promise<{ payload: Array<{ name: string; bytes: ArrayBuffer }>; transfer: ArrayBuffer[] }> {
  const payload = await Promise.all(files.map(async (f) => ({ name: f.path, bytes: await f.file.arrayBuffer() })));
  return { payload, transfer: payload.map((p) => p.bytes) };
}

/**
 * Loads the user's model: TF.js files (model.json + .bin), a PyTorch checkpoint, or a .safetensors state_dict.
 * @returns true when it loaded
 */
export async function uploadModel(files: PickedFile[], options: UploadOptions): Promise<boolean> {
  if (files.length === 0) {
    reportError(new Error('no files picked'), 'Pick model.json with its .bin files, a PyTorch .pth/.pt checkpoint, or a .safetensors file.');
    return false;
  }
  try {
    store.set({ busy: `Reading ${files.length === 1 ? files[0].path : `${files.length} files`}` });
    const { payload, transfer } = await read(files);
    const card = await engine().call('loadModel', { source: { kind: 'files', files: payload, options } }, transfer);
    store.set({ card, stripAfter: null, stripBefore: null, evalBefore: null, run: null, ftSummary: null });
    // Data of another size or class count was dropped by the engine: reload the demo set when it fits.
    if (card.inputShape[0] === 32 && card.inputShape[1] === 32 && card.numClasses === 10) await loadDemoData();
    else store.set({ evalData: null, clean: null });
    await refreshBefore();
    return true;
  } catch (e) {
    reportError(e, 'Your previous model is still loaded.');
    return false;
  } finally {
    store.set({ busy: null });
  }
}

/**
 * Loads the user's clean images (a folder of class folders, a .zip, or images plus labels.csv) as the defender's
 * clean data, resized to the model's input. Progress shows in the page; {@link cancelImport} stops it.
 */
export async function uploadCleanData(files: PickedFile[]): Promise<DataSummary | null> {
  if (files.length === 0) {
    reportError(new Error('no files picked'), 'Pick a folder with one sub-folder of images per class, a .zip of such folders, or images with a labels.csv.');
    return null;
  }
  const off = engine().onMessage((m) => {
    if (m.type === 'progress' && m.task === 'import') store.set({ importProgress: { done: m.done, total: m.total } });
  });
  try {
    store.set({ importProgress: { done: 0, total: files.length } });
    const { payload, transfer } = await read(files);
    const clean = await engine().call('loadData', { role: 'clean', source: { kind: 'files', files: payload } }, transfer);
    store.set({ clean });
    return clean;
  } catch (e) {
    const cancelled = /cancelled/.test((e as Error).message);
    if (!cancelled) reportError(e, 'The clean data you had is still loaded.');
    return null;
  } finally {
    off();
    store.set({ importProgress: null });
  }
}

/** Stops an image import in progress. */
export async function cancelImport(): Promise<void> {
  await engine().call('cancelLoad', {});
}
