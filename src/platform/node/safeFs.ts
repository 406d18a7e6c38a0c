/**
 * File access for what users name on the command line, hardened against hostile paths:
 * - reads take regular files only (a FIFO, a device such as /dev/zero, a socket or a folder is refused before a
 *   byte is read: the file is opened non-blocking, so even opening a FIFO cannot hang) and cap their size;
 * - outputs are staged: each file is written under a temporary name created exclusively (O_EXCL, so a planted
 *   symlink is never followed) and renamed over its final name only when the whole run has succeeded (rename
 *   replaces a symlink at the destination instead of writing through it);
 * - an output folder is checked, and created one level at a time, before any work starts.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Size caps by kind of input (bytes). */
export const READ_LIMITS = {
  /** A model file: checkpoint, safetensors, weight shard (WRN-28-10 in float64 is about 300 MB). */
  model: 2 * 2 ** 30,
  /** JSON files: model.json, manifest.json, trigger.json. */
  json: 64 * 2 ** 20,
  /** A data file: .mcld shard or .zip of images. */
  data: 2 * 2 ** 30,
  /** One image file. */
  image: 64 * 2 ** 20,
} as const;

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/** What a non-regular file is, for messages. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a whole regular file, refusing anything else and anything larger than `maxBytes`.
 * @param label how to name the file in messages (default: its path)
 * @throws Error "<label> is a FIFO (named pipe), not a file" and the like, or "... is N MiB, more than the M MiB allowed"
 */
export function readRegularFile(file: string, maxBytes: number, label = file): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${label} does not exist`);
    if (code === 'EISDIR') throw new Error(`${label} is a folder, not a file`);
    throw new Error(`cannot read ${label}: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${label} is ${kindOf(st)}, not a file`);
    if (st.size > maxBytes) throw new Error(`${label} is ${MiB(st.size)}, more than the ${MiB(maxBytes)} allowed for this kind of file`);
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const n = fs.readSync(fd, out, off, out.length - off, off);
      if (n === 0) break; // the file shrank while being read
      off += n;
    }
    return off === out.length ? out : out.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a regular file as UTF-8 text (see {@link readRegularFile}). */
export function readRegularText(file: string, maxBytes: number, label = file): string {
  return new TextDecoder().decode(readRegularFile(file, maxBytes, label));
}

/** A path's kind without following a final symlink's target kind ('missing' when it does not exist). */
export function pathKind(p: string): 'file' | 'dir' | 'missing' | 'other' {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 'missing';
  }
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
}

/**
 * Makes sure `dir` is a folder that can be written, creating it (and missing parents, one level at a time) when
 * needed. Call it before any long work so a bad --out is reported at once.
 * @returns the folders it created, deepest last (so a failed run can remove them again)
 * @throws Error "<flag> X exists and is not a folder", "cannot create <flag> X: ..."
 */
export function prepareOutDir(dir: string, flag = '--out'): string[] {
  const abs = path.resolve(dir);
  const kind = pathKind(abs);
  if (kind === 'dir') {
    try {
      fs.accessSync(abs, fs.constants.W_OK);
    } catch {
      throw new Error(`${flag} ${dir} is a folder this user cannot write to`);
    }
    return [];
  }
  if (kind !== 'missing') throw new Error(`${flag} ${dir} exists and is not a folder (give a new or existing folder)`);
  const missing: string[] = [];
  for (let p = abs; pathKind(p) === 'missing'; p = path.dirname(p)) {
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  const parent = path.dirname(missing[0]);
  if (pathKind(parent) !== 'dir') throw new Error(`cannot create ${flag} ${dir}: ${parent} is not a folder`);
  const created: string[] = [];
  for (const p of missing) {
    try {
      fs.mkdirSync(p); // one level at a time: never the recursive form, which can spin on special file systems
    } catch (e) {
      removeCreated(created);
      throw new Error(`cannot create ${flag} ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} at ${p}`);
    }
    created.push(p);
  }
  return created;
}

/** Removes folders {@link prepareOutDir} created, deepest first, as long as they are empty. */
export function removeCreated(created: readonly string[]): void {
  for (const p of [...created].reverse()) {
    try {
      fs.rmdirSync(p);
    } catch {
      return; // not empty (or gone): leave it and its parents
    }
  }
}

/**
 * Checks an output file path before work: not a folder or a special file; its folder exists or is created now.
 * @returns the folders it created (see {@link removeCreated})
 */
export function checkOutFile(file: string, flag = '--out'): string[] {
  const kind = pathKind(file);
  if (kind === 'dir') throw new Error(`${flag} ${file} is a folder; give a file name ending in .pth or .safetensors, or a folder name for a TF.js model`);
  if (kind === 'other') throw new Error(`${flag} ${file} exists and is not a regular file`);
  return prepareOutDir(path.dirname(path.resolve(file)), `the folder of ${flag}`);
}

/**
 * Output files written under temporary names and renamed into place together by {@link commit}: a run that fails
 * half-way leaves no complete-looking output, and a symlink planted at a final name is replaced, not followed.
 */
export class StagedOutput {
  private staged: Array<{ tmp: string; final: string }> = [];

  constructor(readonly dir: string) {}

  /** Writes `data` under a fresh temporary name beside `name` (relative to the folder). */
  write(name: string, data: Uint8Array | string): void {
    const final = path.join(this.dir, name);
    const tmp = path.join(path.dirname(final), `.${path.basename(final)}.${process.pid}.${this.staged.length}.tmp`);
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    try {
      fs.writeFileSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    this.staged.push({ tmp, final });
  }

  /** Renames every staged file over its final name. */
  commit(): void {
    for (const { tmp, final } of this.staged) fs.renameSync(tmp, final);
    this.staged = [];
  }

  /** Removes the staged files (after a failure). */
  discard(): void {
    for (const { tmp } of this.staged) fs.rmSync(tmp, { force: true });
    this.staged = [];
  }
}
