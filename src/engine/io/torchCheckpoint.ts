/**
 * PyTorch checkpoints (.pt/.pth, torch.save) read safely. The tensors and their size caps are in torchTensors.ts; the
 * writer (state_dicts as torch.save writes them) is torchCheckpointWriter.ts, re-exported here.
 *
 * Formats read: the zip format of torch >= 1.6 (`<archive>/data.pkl` + one `<archive>/data/<key>` file per storage)
 * and the legacy format (_use_new_zipfile_serialization=False: magic-number pickle, protocol-version pickle,
 * sys_info pickle, the main pickle, a pickle list of storage keys, then per storage an int64 element count and
 * its raw bytes). The pickles go through io/pickle.ts, which never executes anything and resolves only the globals
 * a state_dict needs, plus data-only stand-ins for numpy scalars and arrays kept beside the weights (best accuracy,
 * histories: they only ever appear in `extras`); a whole pickled nn.Module or a booby-trapped file is refused with a
 * message saying so.
 *
 * Tensors come back as NamedTensor: float dtypes as Float32Array data with the stored dtype kept as the label
 * (F32, F64, F16, BF16: float64 values are rounded to float32); int64 as 'I64' and int32 as 'I32' in Int32Array
 * (range-checked); int16/int8 as 'I32' in Int32Array; uint8 and bool as 'U8' in Uint8Array. Views are materialized
 * as contiguous row-major copies, whatever their storage offset and strides.
 */
import type { StateDict } from '../model/torchWeights';
import { PickleRefusedError, PyGlobal, describe, unpickle, type AllowList, type AllowedGlobal } from './pickle';
import { NUMPY_GLOBALS, NumpyArray, NumpyDtype, NumpyScalar } from './pickleNumpy';
import { checkSizes, gather, StorageRef, STORAGES, TensorRef } from './torchTensors';
import { looksLikeZip, readZip, type ZipEntry } from './zipReader';

export { MAX_BROADCAST_ELEMENTS, MAX_TENSOR_ELEMENTS, MAX_TOTAL_ELEMENTS } from './torchTensors';
export { writeTorchCheckpoint } from './torchCheckpointWriter';

/** What readTorchCheckpoint found. */
export interface TorchCheckpoint {
  /** The tensors in file order; a DataParallel "module." prefix is removed when every key carries it. */
  stateDict: StateDict;
  format: 'zip' | 'legacy';
  /** Where the state_dict sat: 'top-level', or the key path to it ('state_dict', 'model', 'net', 'model.state_dict', ...). */
  container: string;
  /**
   * The checkpoint's other top-level entries (epoch, accuracy, ...) as JSON-like values for display; tensors
   * summarized. numpy scalars show as their number, small numpy arrays as nested lists (like tolist()), others as
   * a description ('ndarray float64 [100, 10]', 'numpy <U5 scalar').
   */
  extras: Record<string, unknown>;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function indexList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isIndex)) throw new Error(`damaged checkpoint: a tensor's ${what} is a ${describe(v)}, not a tuple of non-negative ints`);
  return v as number[];
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) and _rebuild_tensor. */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`damaged checkpoint: a tensor is rebuilt from a ${describe(storage)}, not a storage`);
  if (!isIndex(offset)) throw new Error('damaged checkpoint: a tensor has an invalid storage offset');
  const shape = indexList(args[2], 'size');
  const stride = indexList(args[3], 'stride');
  if (shape.length !== stride.length) throw new Error(`damaged checkpoint: a tensor has size [${shape}] but strides [${stride}]`);
  return new TensorRef(storage, offset, shape, stride);
}

const passTensor = (args: unknown[]): unknown => {
  if (!(args[0] instanceof TensorRef)) throw new Error(`damaged checkpoint: a Parameter wraps a ${describe(args[0])}, not a tensor`);
  return args[0];
};

/** The globals a state_dict checkpoint needs, the numpy data stand-ins, and nothing else. */
const TORCH_GLOBALS: AllowList = (() => {
  const g: Record<string, AllowedGlobal> = {
    ...NUMPY_GLOBALS,
    'collections.OrderedDict': {
      call: (args) => {
        const m = new Map<unknown, unknown>();
        if (Array.isArray(args[0])) for (const kv of args[0]) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
        return m;
      },
    },
    'torch._utils._rebuild_tensor_v2': { call: rebuildTensor },
    'torch._utils._rebuild_tensor': { call: rebuildTensor },
    'torch._utils._rebuild_parameter': { call: passTensor },
    'torch._utils._rebuild_parameter_with_state': { call: passTensor },
    'torch.Size': { call: (args) => indexList(args[0] ?? [], 'torch.Size') },
  };
  for (const name of Object.keys(STORAGES)) g[`torch.${name}`] = {};
  return g;
})();
const ALLOWED_TEXT =
  'collections.OrderedDict, torch._utils._rebuild_tensor(_v2), torch._utils._rebuild_parameter(_with_state), torch.Size, torch.<Float|Double|Half|BFloat16|Long|Int|Short|Char|Byte|Bool>Storage, and numpy scalars and arrays as plain data (numpy.core.multiarray.scalar/_reconstruct, numpy.ndarray, numpy.dtype, _codecs.encode)';
/**
 * Modules whose capitalized names are not model classes (system modules, and data classes that checkpoints carry
 * beside the weights, such as argparse.Namespace or numpy scalars), so a refusal there does not say "a whole model".
 */
const NOT_MODELS = new Set(
  (
    'builtins __builtin__ os posix nt sys subprocess commands popen2 shutil socket pty runpy importlib imp pickle cPickle ctypes types ' +
    'operator functools codecs _codecs webbrowser code codeop argparse collections datetime pathlib enum decimal fractions uuid re ' +
    'copyreg copy_reg typing multiprocessing threading thread _thread asyncio io tempfile glob fnmatch http urllib urllib2 httplib ' +
    'ftplib smtplib telnetlib signal platform getpass marshal zipfile tarfile logging inspect ast dis timeit pdb bdb profile cProfile ' +
    'trace tkinter Tkinter xml email json sqlite3 shelve dbm select selectors mmap bz2 gzip lzma zlib hashlib hmac secrets ssl string ' +
    'textwrap struct array heapq bisect weakref contextlib abc dataclasses random math cmath statistics itertools site sysconfig ' +
    'distutils setuptools pip venv zipimport linecache traceback gc resource fcntl termios tty pwd grp crypt spwd syslog sched queue ' +
    'Queue socketserver SocketServer xmlrpc xmlrpclib smtpd imaplib poplib nntplib cgi wsgiref ctypes.util _posixsubprocess _io'
  ).split(' '),
);
const isNotModel = (module: string): boolean => NOT_MODELS.has(module) || NOT_MODELS.has(module.split('.')[0]) || module.split('.')[0] === 'numpy';

/** Rewrites the unpickler's refusal in terms of checkpoints: a whole model, or a global nothing legitimate needs. */
function explainRefusal(e: PickleRefusedError): Error {
  const m = e.module;
  if (e.global === 'torch._utils._rebuild_tensor_v3') {
    // torch >= 2.1 writes float32 & co. with _rebuild_tensor_v2; v3 only for dtypes without a legacy storage class.
    return new Error('this checkpoint holds tensors of a newer dtype (float8, uint16/32/64: torch._utils._rebuild_tensor_v3), which this reader does not support; convert them to float32 before saving');
  }
  if (m.startsWith('__torch__')) return new Error(`this file holds a TorchScript model (class ${e.global}); export its state_dict() with torch.save instead`);
  if (/^[A-Z]/.test(e.qualname) && !isNotModel(m)) {
    return new Error(`this file holds a whole pickled model (class ${e.global}); save model.state_dict() instead: torch.save(model.state_dict(), path)`);
  }
  return new Error(`refusing to load: the file references the disallowed Python global "${e.global}", which a state_dict never needs; only ${ALLOWED_TEXT} are allowed`);
}

/** Runs one pickle of a checkpoint, translating refusals and truncation into checkpoint terms. */
function unpickleCheckpoint(bytes: Uint8Array, offset: number, allowed: AllowList, persistentLoad?: (pid: unknown) => unknown): { value: unknown; end: number } {
  try {
    return unpickle(bytes, { allowed, persistentLoad, offset });
  } catch (e) {
    if (e instanceof PickleRefusedError) throw explainRefusal(e);
    if (e instanceof Error && e.message.startsWith('pickle data ends unexpectedly')) throw new Error(`the checkpoint is truncated: ${e.message}`);
    throw e;
  }
}

/** persistent_load for both formats: ('storage', torch.<T>Storage, key, location, numel[, view_metadata]). */
function storageLoader(storages: Map<string, StorageRef>): (pid: unknown) => unknown {
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`unsupported checkpoint: persistent id ${describe(pid)} (${Array.isArray(pid) ? String(pid[0]) : ''}) is not a storage`);
    const [, type, key, , numel, view] = pid;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !STORAGES[type.name]) throw new Error(`unsupported checkpoint: storage type ${describe(type)}`);
    if (typeof key !== 'string') throw new Error('damaged checkpoint: a storage key is not a string');
    const kind = STORAGES[type.name];
    let root = storages.get(key);
    if (!root) storages.set(key, (root = new StorageRef(kind, key, isIndex(numel) ? numel : undefined)));
    if (root.kind !== kind) throw new Error(`damaged checkpoint: storage ${key} is used as both ${root.kind.dtype} and ${kind.dtype}`);
    if (view === null || view === undefined) return root;
    // Legacy storage views: (view_key, offset, size) in elements of the root storage.
    if (!Array.isArray(view) || typeof view[0] !== 'string' || !isIndex(view[1]) || !isIndex(view[2])) throw new Error('damaged checkpoint: bad storage view metadata');
    const ref = storages.get(view[0]) ?? new StorageRef(kind, view[0], view[2], { root, offset: view[1], numel: view[2] });
    storages.set(view[0], ref);
    return ref;
  };
}

const isTensorDict = (v: unknown): v is Map<string, TensorRef> =>
  v instanceof Map && v.size > 0 && [...v].every(([k, x]) => typeof k === 'string' && x instanceof TensorRef);

/** Keys under which training scripts commonly keep the model's state_dict, most specific first. */
const CONTAINER_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'module', 'state_dict_ema', 'model_ema'];

/** Finds the state_dict: the top level itself, else breadth-first under the usual keys, then any key (3 levels). */
function findStateDict(top: unknown): { dict: Map<string, TensorRef>; path: string[] } | undefined {
  const queue: Array<{ v: unknown; path: string[] }> = [{ v: top, path: [] }];
  const seen = new Set<unknown>();
  while (queue.length) {
    const { v, path } = queue.shift()!;
    if (!(v instanceof Map) || seen.has(v) || path.length > 3) continue;
    seen.add(v);
    if (isTensorDict(v)) return { dict: v, path };
    const keys = [...v.keys()].filter((k): k is string => typeof k === 'string');
    const ordered = [...CONTAINER_KEYS.filter((k) => keys.includes(k)), ...keys.filter((k) => !CONTAINER_KEYS.includes(k))];
    for (const k of ordered) queue.push({ v: v.get(k), path: [...path, k] });
  }
  return undefined;
}

/** A JSON-like rendering of a pickled value for display: bounded in depth and size, tensors summarized. */
function plain(v: unknown, depth = 0, seen = new Set<unknown>()): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof TensorRef) return `tensor ${v.storage.kind.dtype} [${v.shape.join(', ')}]`;
  if (v instanceof PyGlobal) return `<${v.fullName}>`;
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (v instanceof NumpyDtype) return `dtype('${v.name}')`;
  if (v instanceof NumpyScalar) return `numpy ${v.dtype.name} scalar`;
  if (v instanceof NumpyArray) {
    const dtype = v.dtype?.name ?? '?';
    // Nested lists only for small arrays: no dimension above 32 (shape [1e9, 0] is empty), at most 8 dimensions.
    const small = v.size <= 32 && v.shape.length <= 8 && v.shape.every((n) => n <= 32);
    if (!v.values || !small || seen.has(v) || depth >= 3) return `ndarray ${dtype} [${v.shape.join(', ')}]`;
    seen.add(v);
    return plain(nest(v.values, v.shape), depth, seen);
  }
  if (seen.has(v) || depth >= 3) return '…';
  seen.add(v);
  if (Array.isArray(v) || v instanceof Set) {
    const items = [...v];
    const out = items.slice(0, 32).map((x) => plain(x, depth + 1, seen));
    if (items.length > 32) out.push(`… ${items.length - 32} more`);
    return out;
  }
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const [k, x] of v) {
      if (n++ === 32) {
        out['…'] = `${v.size - 32} more`;
        break;
      }
      out[String(k)] = plain(x, depth + 1, seen);
    }
    return out;
  }
  return describe(v);
}

/** Row-major flat values as nested lists of the given shape (numpy's tolist()); a 0-d array is its one value. */
function nest(values: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  const [n, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nest(values.slice(i * step, (i + 1) * step), rest));
}

/** Counts tensors anywhere in a value (for the message when there is no state_dict); iterative, so deep nesting is fine. */
function countTensors(top: unknown): number {
  const seen = new Set<unknown>();
  const todo: unknown[] = [top];
  let n = 0;
  while (todo.length) {
    const v = todo.pop();
    if (v instanceof TensorRef) n++;
    else if (typeof v === 'object' && v !== null && !seen.has(v)) {
      seen.add(v);
      if (v instanceof Map) for (const x of v.values()) todo.push(x);
      else if (Array.isArray(v) || v instanceof Set) for (const x of v) todo.push(x);
    }
  }
  return n;
}

/** Picks the state_dict out of the unpickled top value and reads its tensors. */
async function assemble(top: unknown, format: 'zip' | 'legacy', bytesOf: (s: StorageRef) => Promise<Uint8Array>): Promise<TorchCheckpoint> {
  if (top instanceof TensorRef) throw new Error(`the checkpoint holds a single tensor ([${top.shape}]), not a state_dict`);
  const isNamedTensor = ([k, v]: [unknown, unknown]): boolean => typeof k === 'string' && v instanceof TensorRef;
  let found = findStateDict(top);
  // Last resort: a top-level dict mixing named tensors with other fields ({'conv.weight': ..., 'epoch': 3}).
  if (!found && top instanceof Map && [...top].some(isNamedTensor)) found = { dict: new Map([...top].filter(isNamedTensor)), path: [] };
  if (!found) {
    const n = countTensors(top);
    const what = top instanceof Map ? `a dict with keys ${[...top.keys()].slice(0, 8).map(String).join(', ') || '(none)'}` : `a ${describe(top)}`;
    throw new Error(n ? `the checkpoint holds ${n} tensors but no dict of named tensors (it is ${what})` : `the checkpoint holds no tensors (it is ${what})`);
  }
  const extras: Record<string, unknown> = {};
  if (top instanceof Map) {
    for (const [k, v] of top) if (found.path.length ? k !== found.path[0] : !isNamedTensor([k, v])) extras[String(k)] = plain(v);
  }
  checkSizes(found.dict);
  const stateDict: StateDict = new Map();
  const allPrefixed = [...found.dict.keys()].every((k) => k.startsWith('module.'));
  for (const [key, ref] of found.dict) {
    const root = ref.storage.view?.root ?? ref.storage;
    // DataParallel saves every key as "module.<key>"; strip it only when all keys carry it. (Done here rather than
    // with model/torchWeights' stripModulePrefix, which would pull TensorFlow.js into this pure IO module.)
    stateDict.set(allPrefixed ? key.slice(7) : key, gather(key, ref, await bytesOf(root)));
  }
  return { stateDict, format, container: found.path.length ? found.path.join('.') : 'top-level', extras };
}

async function readZipCheckpoint(bytes: Uint8Array): Promise<TorchCheckpoint> {
  let entries: ZipEntry[];
  try {
    entries = readZip(bytes);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(/truncated/.test(msg) ? `the checkpoint is truncated (${msg}); was the download or copy cut short?` : `not a PyTorch checkpoint: ${msg}`);
  }
  const names = entries.map((e) => e.name);
  const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (names.some((n) => /^[^/]+\/constants\.pkl$/.test(n))) throw new Error('this file is a TorchScript model (torch.jit.save); save model.state_dict() with torch.save instead');
  if (!pkl) throw new Error(`not a PyTorch checkpoint: a zip archive without data.pkl (it holds ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await byteorder.read()).trim();
    if (order !== 'little') throw new Error(`this checkpoint was saved with byte order "${order}"; only little-endian files are supported (load and re-save it on a little-endian machine)`);
  }
  const storages = new Map<string, StorageRef>();
  const { value } = unpickleCheckpoint(await pkl.read(), 0, TORCH_GLOBALS, storageLoader(storages));
  const cache = new Map<string, Promise<Uint8Array>>();
  return assemble(value, 'zip', (s) => {
    let p = cache.get(s.key);
    if (!p) {
      const entry = byName.get(`${prefix}data/${s.key}`);
      if (!entry) throw new Error(`the checkpoint is damaged or truncated: storage data/${s.key} is missing from the archive`);
      cache.set(s.key, (p = entry.read()));
    }
    return p;
  });
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

async function readLegacyCheckpoint(bytes: Uint8Array): Promise<TorchCheckpoint> {
  let r = unpickleCheckpoint(bytes, 0, {});
  if (r.value !== LEGACY_MAGIC) throw new Error('not a PyTorch checkpoint: a plain Python pickle, not written by torch.save (its first value is not torch\'s magic number)');
  r = unpickleCheckpoint(bytes, r.end, {});
  if (r.value !== 1001) throw new Error(`unsupported legacy checkpoint: protocol version ${String(r.value)}, expected 1001`);
  r = unpickleCheckpoint(bytes, r.end, {});
  const sysInfo = r.value;
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new Error('this checkpoint was saved on a big-endian machine; only little-endian files are supported (load and re-save it on a little-endian machine)');
  }
  const storages = new Map<string, StorageRef>();
  const main = unpickleCheckpoint(bytes, r.end, TORCH_GLOBALS, storageLoader(storages));
  const keys = unpickleCheckpoint(bytes, main.end, {});
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new Error('damaged legacy checkpoint: the storage key list is not a list of strings');
  // The raw storages follow in key order, each as an int64 element count and its bytes.
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (!s) throw new Error(`damaged legacy checkpoint: storage ${key} is listed but never used`);
    if (pos + 8 > bytes.length) throw new Error(`the checkpoint is truncated: storage ${key} should start at byte ${pos}, the file ends at ${bytes.length}`);
    const numel = Number(view.getBigInt64(pos, true));
    const end = pos + 8 + numel * s.kind.bytes;
    if (numel < 0 || end > bytes.length) throw new Error(`the checkpoint is truncated: storage ${key} needs ${numel * s.kind.bytes} bytes at byte ${pos + 8}, the file ends at ${bytes.length}`);
    data.set(key, bytes.subarray(pos + 8, end));
    pos = end;
  }
  return assemble(main.value, 'legacy', async (s) => {
    const d = data.get(s.key);
    if (!d) throw new Error(`damaged legacy checkpoint: storage ${s.key} has no data`);
    return d;
  });
}

/** A guess at what a non-checkpoint file is, for the error message. */
function whatItLooksLike(b: Uint8Array): string {
  const ascii = (from: number, n: number): string => String.fromCharCode(...b.subarray(from, from + n));
  if (b.length === 0) return 'the file is empty';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'it is a PNG image';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'it is a JPEG image';
  if (ascii(0, 4) === 'GIF8') return 'it is a GIF image';
  if (b[0] === 0x1f && b[1] === 0x8b) return 'it is gzip-compressed (a .gz or .tar.gz?); unpack it first';
  if (ascii(0, 8) === '\x89HDF\r\n\x1a\n') return 'it is an HDF5 file (a Keras .h5 model?)';
  if (ascii(0, 6) === '\x93NUMPY') return 'it is a NumPy .npy array';
  if (b.length > 262 && ascii(257, 5) === 'ustar') return 'it is a tar archive (torch.save before 0.4 used tar; that format is not supported)';
  if (b.length >= 9 && b[8] === 0x7b && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0) return 'it is a safetensors file; load it as safetensors';
  if (b[0] === 0x7b || b[0] === 0x5b) return 'it is JSON or text (a TF.js model.json?)';
  const hex = [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return `its first bytes are ${hex}`;
}

/**
 * Reads a torch.save checkpoint (zip or legacy format) without executing any of its pickled code.
 * @throws Error saying why the file was refused: not a torch file (and what it looks like), truncated, big-endian,
 *   a whole pickled model, a global outside the allow-list, no tensors, tensor data shorter than its shape
 */
export async function readTorchCheckpoint(input: Uint8Array | ArrayBuffer): Promise<TorchCheckpoint> {
  // A plain Uint8Array view (no copy): Node's Buffer would make slice() a view instead of a copy.
  const bytes = input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  if (looksLikeZip(bytes)) return readZipCheckpoint(bytes);
  if (bytes[0] === 0x80 && bytes[1] <= 5) return readLegacyCheckpoint(bytes);
  throw new Error(`not a PyTorch checkpoint: ${whatItLooksLike(bytes)} (torch.save writes zip archives, or pickles starting with torch's magic number)`);
}
