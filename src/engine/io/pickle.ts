/**
 * A safe Python unpickler and a minimal pickle writer (pure TypeScript).
 *
 * Python's pickle is a small stack machine whose GLOBAL + REDUCE opcodes import and call any function: loading an
 * untrusted pickle in Python runs whatever the author wanted (os.system, eval, ...). This unpickler interprets the
 * opcodes into plain JS values and never executes anything: a Python global resolves only when the caller's
 * allow-list names it, and "calling" it runs the caller's own JS stand-in. Any other global stops the load with a
 * PickleRefusedError before anything that follows it is read.
 *
 * Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number, str -> string,
 * bytes/bytearray -> Uint8Array, list -> Array, tuple -> frozen Array, dict -> Map (keys compared as JS values,
 * so tuple keys are by identity), set/frozenset -> Set, an allowed global -> PyGlobal until it is called.
 * The memo can make values shared or cyclic (a list that contains itself): walk results with a visited set.
 * The interpreter is iterative (no recursion); stack, mark nesting and memo sizes are capped.
 * NUMPY_GLOBALS is a ready allow-list of data-only stand-ins for numpy scalars, arrays and dtypes (numbers out,
 * placeholders for the rest), for pickles that keep numpy values beside their data.
 */

/** What an allowed Python global becomes: `call` stands in for REDUCE f(*args), NEWOBJ and INST/OBJ. */
export interface AllowedGlobal {
  /** Builds the JS value for a call of the global; absent: the global may be passed around but not called. */
  call?: (args: unknown[]) => unknown;
}

/** Allowed globals keyed by "module.name" (e.g. "collections.OrderedDict"). */
export type AllowList = Readonly<Record<string, AllowedGlobal>>;

/** A resolved, allowed Python global as it sits on the stack (e.g. a storage type handed to persistent_load). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly spec: AllowedGlobal,
  ) {}
  /** "module.name" */
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Thrown when a pickle names a Python global that is not on the allow-list. */
export class PickleRefusedError extends Error {
  constructor(
    readonly module: string,
    readonly qualname: string,
    readonly position: number,
  ) {
    super(`refusing to load: the pickle references the Python global "${module}.${qualname}" (at byte ${position}), which is not on the allow-list`);
    this.name = 'PickleRefusedError';
  }
  /** "module.qualname" of the refused global. */
  get global(): string {
    return `${this.module}.${this.qualname}`;
  }
}

/**
 * Objects that BUILD (`obj.__setstate__(state)`) may update implement this symbol. BUILD on a dict (an
 * OrderedDict with attributes, such as a state_dict's `_metadata`) drops the attributes; on anything else it fails.
 */
export const SET_STATE = Symbol('pickle.setState');

/** Caps on what one pickle may build up (defaults in brackets). */
export interface PickleLimits {
  /** Values on the stack at once, all marks together [1,000,000]. */
  maxStack?: number;
  /** Nesting of MARKs [10,000]. */
  maxMarks?: number;
  /** Memo entries [1,000,000]. */
  maxMemo?: number;
}

/** Options of unpickle. */
export interface UnpickleOptions {
  /** The only Python globals the pickle may reference. */
  allowed: AllowList;
  /** Resolves persistent ids (PERSID/BINPERSID); without it such a pickle is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Byte where the pickle starts (files may hold several pickles in a row) [0]. */
  offset?: number;
  limits?: PickleLimits;
}

/** The unpickled value and the byte just after its STOP opcode. */
export interface UnpickleResult {
  value: unknown;
  end: number;
}

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
};

/** Decodes a protocol-0 STRING argument: a Python repr in single or double quotes. */
function decodeStringRepr(line: string, at: number): string {
  const q = line[0];
  if (line.length < 2 || (q !== "'" && q !== '"') || line[line.length - 1] !== q) throw new Error(`pickle: STRING at byte ${at} is not quoted`);
  const body = line.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    return simple[e] ?? `\\${e}`;
  });
}

/** Decodes a protocol-0 UNICODE argument (raw-unicode-escape: Latin-1 with \uXXXX and \UXXXXXXXX). */
function decodeRawUnicodeEscape(b: Uint8Array): string {
  return latin1(b).replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u?: string, U?: string) => String.fromCodePoint(parseInt((u ?? U)!, 16)));
}

/** Two's-complement little-endian integer of any length (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return narrow(v);
}

function narrow(v: bigint): number | bigint {
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Interprets one pickle (protocols 0-5) starting at `options.offset`, without executing anything.
 * @throws PickleRefusedError for a global outside the allow-list
 * @throws Error "pickle data ends unexpectedly at byte N" on truncated input, and naming the opcode otherwise
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  // A plain Uint8Array view: on a Node Buffer, slice() would alias instead of copy.
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxStack = options.limits?.maxStack ?? 1_000_000;
  const maxMarks = options.limits?.maxMarks ?? 10_000;
  const maxMemo = options.limits?.maxMemo ?? 1_000_000;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = options.offset ?? 0;
  let opPos = pos;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  let depth = 0; // values on all stacks together
  const memo = new Map<number, unknown>();

  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) throw new Error(`pickle data ends unexpectedly at byte ${bytes.length} (opcode at byte ${opPos} needs ${n} more bytes)`);
    const at = pos;
    pos += n;
    return at;
  };
  const take = (n: number): Uint8Array => bytes.subarray(need(n), pos);
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`pickle data ends unexpectedly at byte ${bytes.length} (opcode at byte ${opPos} needs a newline)`);
    const s = latin1(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const lineIndex = (): number => {
    const s = line().trim();
    if (!/^\d+$/.test(s)) throw new Error(`pickle: bad memo index "${s}" at byte ${opPos}`);
    return Number(s);
  };
  const size64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    return v > BigInt(bytes.length) ? bytes.length + 1 : Number(v); // too large: fails in need()
  };
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      throw new Error(`pickle: invalid UTF-8 in the string at byte ${opPos}`);
    }
  };
  const push = (v: unknown): void => {
    if (++depth > maxStack) throw new Error(`pickle: more than ${maxStack} values on the stack (limit)`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle: stack underflow at byte ${opPos} (damaged pickle)`);
    depth--;
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle: stack underflow at byte ${opPos} (damaged pickle)`);
    return stack[stack.length - 1];
  };
  /** Pops everything down to the last MARK (POP_MARK semantics) and returns it in order. */
  const popMark = (): unknown[] => {
    const items = stack;
    if (marks.length === 0) throw new Error(`pickle: no MARK before the opcode at byte ${opPos} (damaged pickle)`);
    stack = marks.pop()!;
    return items;
  };
  const put = (i: number): void => {
    if (!memo.has(i) && memo.size >= maxMemo) throw new Error(`pickle: more than ${maxMemo} memo entries (limit)`);
    memo.set(i, top());
  };
  const get = (i: number): void => {
    if (!memo.has(i)) throw new Error(`pickle: memo entry ${i} read before it was written (byte ${opPos})`);
    push(memo.get(i));
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const spec = Object.prototype.hasOwnProperty.call(options.allowed, `${module}.${name}`) ? options.allowed[`${module}.${name}`] : undefined;
    if (!spec) throw new PickleRefusedError(module, name, opPos);
    return new PyGlobal(module, name, spec);
  };
  const call = (f: unknown, args: unknown[], op: string): unknown => {
    if (!(f instanceof PyGlobal)) throw new Error(`pickle: ${op} at byte ${opPos} calls a ${describe(f)}, not an allowed global`);
    if (!f.spec.call) throw new Error(`pickle: ${op} at byte ${opPos} calls ${f.fullName}, which may only be referenced`);
    return f.spec.call(args);
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) throw new Error(`pickle: persistent id at byte ${opPos} but no persistent_load was given`);
    return options.persistentLoad(pid);
  };
  const setItems = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof Map)) throw new Error(`pickle: SETITEM(S) at byte ${opPos} on a ${describe(d)}, not a dict`);
    if (items.length % 2) throw new Error(`pickle: SETITEMS at byte ${opPos} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (Array.isArray(l) && !Object.isFrozen(l)) for (const x of items) l.push(x); // no spread: 200k items would overflow the call stack
    else if (l instanceof Set) for (const x of items) l.add(x);
    else throw new Error(`pickle: APPEND(S)/ADDITEMS at byte ${opPos} on a ${describe(l)}`);
  };
  const tuple = (items: unknown[]): unknown[] => Object.freeze(items) as unknown[];

  for (;;) {
    opPos = pos;
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: { // PROTO
        const v = bytes[need(1)];
        if (v > 5) throw new Error(`pickle: protocol ${v} is newer than the supported 0-5`);
        break;
      }
      case 0x95: need(8); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        if (marks.length >= maxMarks) throw new Error(`pickle: MARKs nested deeper than ${maxMarks} (limit)`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: pop(); break; // POP
      case 0x31: depth -= popMark().length; break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      // Constants and numbers
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: push(bytes[need(1)]); break; // BININT1
      case 0x4d: push(view.getUint16(need(2), true)); break; // BININT2
      case 0x8a: push(decodeLong(take(bytes[need(1)]))); break; // LONG1
      case 0x8b: { // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0 || n > 1 << 16) throw new Error(`pickle: LONG4 of ${n} bytes at byte ${opPos} (limit 65536)`);
        push(decodeLong(take(n)));
        break;
      }
      case 0x49: { // INT (protocol 0; "00"/"01" are False/True)
        const s = line().trim();
        if (s === '00' || s === '01') push(s === '01');
        else if (/^[+-]?\d+$/.test(s)) push(narrow(BigInt(s)));
        else throw new Error(`pickle: bad INT "${s}" at byte ${opPos}`);
        break;
      }
      case 0x4c: { // LONG (protocol 0)
        const s = line().trim().replace(/L$/, '');
        if (!/^[+-]?\d+$/.test(s)) throw new Error(`pickle: bad LONG "${s}" at byte ${opPos}`);
        push(narrow(BigInt(s)));
        break;
      }
      case 0x47: push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x46: { // FLOAT (protocol 0: repr(), so also "inf" and "nan")
        const s = line().trim();
        if (/^[+-]?inf(inity)?$/i.test(s)) push(s.startsWith('-') ? -Infinity : Infinity);
        else if (/^[+-]?nan$/i.test(s)) push(NaN);
        else if (s !== '' && !Number.isNaN(Number(s))) push(Number(s));
        else throw new Error(`pickle: bad FLOAT "${s}" at byte ${opPos}`);
        break;
      }
      // Strings and bytes
      case 0x8c: push(text(take(bytes[need(1)]))); break; // SHORT_BINUNICODE
      case 0x58: push(text(take(view.getUint32(need(4), true)))); break; // BINUNICODE
      case 0x8d: push(text(take(size64()))); break; // BINUNICODE8
      case 0x56: { // UNICODE
        const start = pos;
        line();
        push(decodeRawUnicodeEscape(bytes.subarray(start, pos - 1)));
        break;
      }
      case 0x55: push(latin1(take(bytes[need(1)]))); break; // SHORT_BINSTRING (Python 2 str)
      case 0x54: { // BINSTRING
        const n = view.getInt32(need(4), true);
        push(latin1(take(n)));
        break;
      }
      case 0x53: push(decodeStringRepr(line(), opPos)); break; // STRING
      case 0x43: push(take(bytes[need(1)]).slice()); break; // SHORT_BINBYTES
      case 0x42: push(take(view.getUint32(need(4), true)).slice()); break; // BINBYTES
      case 0x8e: push(take(size64()).slice()); break; // BINBYTES8
      case 0x96: push(take(size64()).slice()); break; // BYTEARRAY8
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        throw new Error(`pickle: out-of-band buffers (protocol 5, byte ${opPos}) are not supported`);
      // Containers
      case 0x29: push(tuple([])); break; // EMPTY_TUPLE
      case 0x85: push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); push(tuple([pop(), b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); push(tuple([pop(), b, c])); break; } // TUPLE3
      case 0x74: { const items = popMark(); depth -= items.length; push(tuple(items)); break; } // TUPLE
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x6c: { const items = popMark(); depth -= items.length; push(items); break; } // LIST
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const items = popMark();
        depth -= items.length;
        const d = new Map();
        setItems(d, items);
        push(d);
        break;
      }
      case 0x8f: push(new Set()); break; // EMPTY_SET
      case 0x91: { const items = popMark(); depth -= items.length; push(new Set(items)); break; } // FROZENSET
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: case 0x90: { const items = popMark(); depth -= items.length; appendItems(top(), items); break; } // APPENDS, ADDITEMS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); depth -= items.length; setItems(top(), items); break; } // SETITEMS
      // Memo
      case 0x71: put(bytes[need(1)]); break; // BINPUT
      case 0x72: put(view.getUint32(need(4), true)); break; // LONG_BINPUT
      case 0x70: put(lineIndex()); break; // PUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x68: get(bytes[need(1)]); break; // BINGET
      case 0x6a: get(view.getUint32(need(4), true)); break; // LONG_BINGET
      case 0x67: get(lineIndex()); break; // GET
      // Globals, calls, objects: only through the allow-list
      case 0x63: { const module = line(); push(resolve(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error(`pickle: STACK_GLOBAL at byte ${opPos} with non-string names`);
        push(resolve(module, name));
        break;
      }
      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4
        throw new Error(`refusing to load: the pickle uses the copyreg extension registry (byte ${opPos}), which resolves globals this reader cannot check`);
      case 0x52: { const args = pop(); const f = pop(); push(call(f, asArgs(args, 'REDUCE', opPos), 'REDUCE')); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); push(call(cls, asArgs(args, 'NEWOBJ', opPos), 'NEWOBJ')); break; } // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) throw new Error(`pickle: NEWOBJ_EX at byte ${opPos} with keyword arguments is not supported`);
        push(call(cls, asArgs(args, 'NEWOBJ_EX', opPos), 'NEWOBJ_EX'));
        break;
      }
      case 0x69: { // INST
        const module = line();
        const f = resolve(module, line());
        const args = popMark();
        depth -= args.length;
        push(call(f, args, 'INST'));
        break;
      }
      case 0x6f: { // OBJ
        const items = popMark();
        depth -= items.length;
        push(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top() as { [SET_STATE]?: (s: unknown) => void };
        if (obj !== null && typeof obj === 'object' && typeof obj[SET_STATE] === 'function') obj[SET_STATE]!(state);
        else if (!(obj instanceof Map)) throw new Error(`pickle: BUILD at byte ${opPos} on a ${describe(obj)}, which takes no state`);
        break;
      }
      case 0x51: push(persistent(pop())); break; // BINPERSID
      case 0x50: push(persistent(line())); break; // PERSID
      default:
        throw new Error(`pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opPos} (not a pickle, or damaged)`);
    }
  }
}

function asArgs(v: unknown, op: string, at: number): unknown[] {
  if (!Array.isArray(v)) throw new Error(`pickle: ${op} at byte ${at} with arguments that are a ${describe(v)}, not a tuple`);
  return v;
}

/** A short description of a value's kind for messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.fullName}`;
  if (Array.isArray(v)) return Object.isFrozen(v) ? `tuple of ${v.length}` : `list of ${v.length}`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}

// ---------------------------------------------------------------------------------------------------------------
// numpy values as data. Training checkpoints keep numpy scalars and small arrays beside the weights (best accuracy,
// histories); pickle writes them through numpy.core.multiarray.scalar / _reconstruct, numpy.dtype, numpy.ndarray and
// _codecs.encode (bytes, protocols < 3). NUMPY_GLOBALS stands in for exactly those with data-only JS values: nothing
// of numpy runs, and anything they are handed is data the unpickler already built under the same allow-list.
// ---------------------------------------------------------------------------------------------------------------

/** A numpy element type this reader decodes: bytes per element and a little/big-endian reader. */
interface NumpyKind {
  name: string;
  size: number;
  read: (d: DataView, at: number, littleEndian: boolean) => number | bigint | boolean;
}

/** numpy type strings (dtype.__reduce__'s first argument) of the decoded kinds; others stay opaque. */
const NUMPY_KINDS: Readonly<Record<string, NumpyKind>> = {
  f8: { name: 'float64', size: 8, read: (d, i, le) => d.getFloat64(i, le) },
  f4: { name: 'float32', size: 4, read: (d, i, le) => d.getFloat32(i, le) },
  i8: { name: 'int64', size: 8, read: (d, i, le) => narrow(d.getBigInt64(i, le)) },
  i4: { name: 'int32', size: 4, read: (d, i, le) => d.getInt32(i, le) },
  i2: { name: 'int16', size: 2, read: (d, i, le) => d.getInt16(i, le) },
  i1: { name: 'int8', size: 1, read: (d, i) => d.getInt8(i) },
  u8: { name: 'uint64', size: 8, read: (d, i, le) => narrow(d.getBigUint64(i, le)) },
  u4: { name: 'uint32', size: 4, read: (d, i, le) => d.getUint32(i, le) },
  u2: { name: 'uint16', size: 2, read: (d, i, le) => d.getUint16(i, le) },
  u1: { name: 'uint8', size: 1, read: (d, i) => d.getUint8(i) },
  b1: { name: 'bool', size: 1, read: (d, i) => d.getUint8(i) !== 0 },
};

/** Arrays up to this many elements get their values decoded (NumpyArray.values); larger ones keep raw bytes only. */
export const NUMPY_DECODE_LIMIT = 4096;

/**
 * numpy.dtype(str, align, copy) as data. `str` is numpy's type string ('f8', 'i4', 'b1', 'U8', 'V6', 'O8', ...);
 * BUILD's state tuple (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]) sets the
 * byte order and marks structured or sub-array dtypes, which are never decoded.
 */
export class NumpyDtype {
  /** '<', '>', '|' (not applicable) or '=' (native, taken as little-endian); '=' until BUILD says otherwise. */
  byteorder = '=';
  /** Item size from BUILD for flexible types (strings, voids); undefined when numpy derives it from `str`. */
  itemsize: number | undefined;
  /** BUILD gave names, fields or a sub-array: a record type, never decoded. */
  structured = false;

  constructor(readonly str: string) {}

  [SET_STATE](state: unknown): void {
    if (!Array.isArray(state) || state.length < 2) throw new Error(`pickle: numpy.dtype state is a ${describe(state)}, not a tuple`);
    if (typeof state[1] === 'string' && /^[<>|=]$/.test(state[1])) this.byteorder = state[1];
    if (state[0] === 3 || state[0] === 4) {
      this.structured = state[2] != null || state[3] != null || state[4] != null;
      if (typeof state[5] === 'number' && state[5] > 0) this.itemsize = state[5];
    }
  }

  /** How elements are decoded; undefined for kinds shown only as placeholders (strings, records, complex, dates...). */
  get kind(): NumpyKind | undefined {
    return this.structured || !Object.prototype.hasOwnProperty.call(NUMPY_KINDS, this.str) ? undefined : NUMPY_KINDS[this.str];
  }

  get littleEndian(): boolean {
    return this.byteorder !== '>';
  }

  /** 'float64', 'int32', 'bool', ...; numpy's type string with its byte order otherwise ('<U2', '|V6'). */
  get name(): string {
    return this.kind?.name ?? `${this.byteorder === '=' ? '' : this.byteorder}${this.str}`;
  }
}

/** A numpy scalar of a kind this reader does not decode (a string, a record, a complex number...): kept opaque. */
export class NumpyScalar {
  constructor(
    readonly dtype: NumpyDtype,
    /** Its pickled payload: raw bytes for the usual kinds. */
    readonly data: unknown,
  ) {}
}

/**
 * A numpy.ndarray as data, from numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') and BUILD's state
 * (version, shape, dtype, is_fortran, rawdata).
 */
export class NumpyArray {
  shape: number[] = [0];
  dtype: NumpyDtype | undefined;
  fortran = false;
  /** The element bytes as pickled (in Fortran order when `fortran`); undefined for object arrays. */
  data: Uint8Array | undefined;
  /**
   * The elements in row-major order: numbers (bigint beyond 2^53) or booleans for decoded kinds up to
   * NUMPY_DECODE_LIMIT elements, the unpickled items for object arrays; undefined otherwise.
   */
  values: unknown[] | undefined;

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  [SET_STATE](state: unknown): void {
    if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) throw new Error(`pickle: numpy array state is a ${describe(state)}, not (version, shape, dtype, is_fortran, data)`);
    const [shape, dtype, fortran, raw] = state.length === 5 ? state.slice(1) : state;
    if (!Array.isArray(shape) || !shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) throw new Error(`pickle: numpy array shape is a ${describe(shape)}, not a tuple of non-negative ints`);
    if (!(dtype instanceof NumpyDtype)) throw new Error(`pickle: numpy array dtype is a ${describe(dtype)}, not a numpy.dtype`);
    this.shape = [...(shape as number[])];
    this.dtype = dtype;
    this.fortran = fortran === true || fortran === 1;
    const numel = this.size;
    if (!Number.isSafeInteger(numel)) throw new Error(`pickle: numpy array of shape [${this.shape}] is too large`);
    if (Array.isArray(raw)) {
      // An object array: its items were unpickled like any other value (under the same allow-list).
      if (raw.length !== numel) throw new Error(`pickle: numpy object array of shape [${this.shape}] holds ${raw.length} items`);
      this.values = this.fortran ? fortranToRowMajor(raw, this.shape) : [...raw];
      return;
    }
    const bytes = typeof raw === 'string' ? latin1Bytes(raw) : raw;
    if (!(bytes instanceof Uint8Array)) throw new Error(`pickle: numpy array data is a ${describe(raw)}, not bytes`);
    this.data = bytes;
    const kind = dtype.kind;
    if (!kind) return;
    if (bytes.length !== numel * kind.size) throw new Error(`pickle: numpy ${kind.name} array of shape [${this.shape}] has ${bytes.length} bytes of data, not ${numel * kind.size}`);
    if (numel > NUMPY_DECODE_LIMIT) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const flat = Array.from({ length: numel }, (_, i) => kind.read(view, i * kind.size, dtype.littleEndian));
    this.values = this.fortran ? fortranToRowMajor(flat, this.shape) : flat;
  }
}

/** Reorders column-major (Fortran) elements into row-major order. */
function fortranToRowMajor<T>(items: readonly T[], shape: readonly number[]): T[] {
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  for (let d = 0, acc = 1; d < nd; d++) {
    fStride[d] = acc;
    acc *= shape[d];
  }
  const idx = new Array<number>(nd).fill(0);
  const out: T[] = [];
  for (let i = 0; i < items.length; i++) {
    out.push(items[idx.reduce((a, x, d) => a + x * fStride[d], 0)]);
    for (let d = nd - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return out;
}

/** The bytes of a str whose code points are all below 256 (Python's str.encode('latin1')). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`pickle: a latin1-encoded bytes value holds the character U+${c.toString(16).padStart(4, '0')}`);
    out[i] = c;
  }
  return out;
}

/** numpy.core.multiarray.scalar(dtype, data): the decoded number or boolean, or a NumpyScalar placeholder. */
function numpyScalar(args: unknown[]): unknown {
  const [dtype, data] = args;
  if (!(dtype instanceof NumpyDtype)) throw new Error(`pickle: numpy scalar of a ${describe(dtype)}, not a numpy.dtype`);
  const bytes = typeof data === 'string' ? latin1Bytes(data) : data; // Python 2 pickles carry str
  const kind = dtype.kind;
  if (!kind || !(bytes instanceof Uint8Array)) return new NumpyScalar(dtype, data ?? null);
  if (bytes.length !== kind.size) throw new Error(`pickle: numpy ${kind.name} scalar with ${bytes.length} bytes of data`);
  return kind.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, dtype.littleEndian);
}

const numpyMultiarray: Record<string, AllowedGlobal> = {
  scalar: { call: numpyScalar },
  _reconstruct: {
    call: (args) => {
      const sub = args[0];
      if (!(sub instanceof PyGlobal) || sub.module !== 'numpy' || sub.name !== 'ndarray') throw new Error(`pickle: numpy _reconstruct of a ${describe(sub)}, not numpy.ndarray`);
      return new NumpyArray();
    },
  },
};

const emptyBytes: AllowedGlobal = {
  call: (args) => {
    if (args.length) throw new Error('pickle: bytes(...) is only allowed without arguments (how pickle writes b"")');
    return new Uint8Array(0);
  },
};

/**
 * Data-only stand-ins for the globals numpy scalars, arrays and dtypes pickle through (numpy 1.x numpy.core and
 * numpy 2.x numpy._core spellings), plus _codecs.encode(str, 'latin1') and bytes() with which protocols < 3 write
 * bytes. Decoded kinds: float64/32, int64/32/16/8, uint64/32/16/8, bool; other kinds become NumpyScalar or an
 * undecoded NumpyArray.
 */
export const NUMPY_GLOBALS: AllowList = Object.freeze({
  ...Object.fromEntries(
    ['numpy.core.multiarray', 'numpy._core.multiarray'].flatMap((m) => Object.entries(numpyMultiarray).map(([name, spec]) => [`${m}.${name}`, spec])),
  ),
  'numpy.dtype': {
    call: (args) => {
      const [str] = args;
      if (typeof str !== 'string' || !/^[A-Za-z?][A-Za-z0-9]{0,15}$/.test(str)) throw new Error(`pickle: numpy.dtype(${typeof str === 'string' ? JSON.stringify(str.slice(0, 20)) : describe(str)}) is not a numpy type string`);
      return new NumpyDtype(str);
    },
  },
  'numpy.ndarray': {},
  '_codecs.encode': {
    call: (args) => {
      const [s, encoding] = args;
      if (typeof s !== 'string' || args.length !== 2 || (encoding !== 'latin1' && encoding !== 'latin-1')) {
        throw new Error("pickle: _codecs.encode is only allowed as encode(str, 'latin1'), how pickle writes bytes");
      }
      return latin1Bytes(s);
    },
  },
  'builtins.bytes': emptyBytes,
  '__builtin__.bytes': emptyBytes,
});

/**
 * Appends pickle opcodes to a growing buffer: the few a checkpoint writer needs, protocol 2, as CPython emits them.
 * Globals are memoized (BINPUT once, BINGET after), so repeated references cost two bytes.
 */
export class PickleWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  private readonly globals = new Map<string, number>();
  private memoSize = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  private byte(...b: number[]): this {
    this.ensure(b.length);
    for (const x of b) this.buf[this.len++] = x;
    return this;
  }
  private u32(v: number): this {
    this.ensure(4);
    new DataView(this.buf.buffer).setUint32(this.len, v, true);
    this.len += 4;
    return this;
  }
  private raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  /** PROTO n */
  proto(n = 2): this {
    return this.byte(0x80, n);
  }
  /** MARK */
  mark(): this {
    return this.byte(0x28);
  }
  /** None */
  none(): this {
    return this.byte(0x4e);
  }
  /** True or False */
  bool(v: boolean): this {
    return this.byte(v ? 0x88 : 0x89);
  }
  /** A Python int: BININT1/BININT2/BININT where it fits, LONG1 otherwise. */
  int(v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error(`PickleWriter.int: ${v} is not an integer`);
    const n = BigInt(v);
    if (n >= 0n && n < 256n) return this.byte(0x4b, Number(n));
    if (n >= 0n && n < 65536n) return this.byte(0x4d, Number(n) & 0xff, Number(n) >> 8);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) return this.byte(0x4a).u32(Number(BigInt.asUintN(32, n)));
    const bytes: number[] = [];
    let x = n;
    // Shortest two's complement: stop once the remaining value is the sign extension of the last byte.
    for (;;) {
      const b = Number(BigInt.asUintN(8, x));
      bytes.push(b);
      x >>= 8n;
      if ((x === 0n && !(b & 0x80)) || (x === -1n && b & 0x80)) break;
    }
    return this.byte(0x8a, bytes.length, ...bytes);
  }
  /** A Python float (BINFLOAT, big-endian). */
  float(v: number): this {
    this.byte(0x47);
    this.ensure(8);
    new DataView(this.buf.buffer).setFloat64(this.len, v, false);
    this.len += 8;
    return this;
  }
  /** A Python str (BINUNICODE, UTF-8). */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.byte(0x58).u32(b.length).raw(b);
  }
  /** The global module.name (GLOBAL then BINPUT the first time, BINGET after). */
  global(module: string, name: string): this {
    const key = `${module}\n${name}\n`;
    const m = this.globals.get(key);
    if (m !== undefined) return m < 256 ? this.byte(0x68, m) : this.byte(0x6a).u32(m);
    this.byte(0x63).raw(new TextEncoder().encode(key));
    const i = this.memoSize++;
    this.globals.set(key, i);
    return i < 256 ? this.byte(0x71, i) : this.byte(0x72).u32(i);
  }
  /** An n-tuple of the n values just written (EMPTY_TUPLE, TUPLE1-3), or since the last mark when n is omitted (TUPLE). */
  tuple(n?: number): this {
    if (n === undefined) return this.byte(0x74);
    if (n > 3) throw new Error('PickleWriter.tuple: write a mark first for tuples of more than 3');
    return this.byte([0x29, 0x85, 0x86, 0x87][n]);
  }
  /** EMPTY_DICT */
  emptyDict(): this {
    return this.byte(0x7d);
  }
  /** SETITEMS: key/value pairs since the last mark into the dict below it. */
  setItems(): this {
    return this.byte(0x75);
  }
  /** REDUCE: call the global below with the tuple on top. */
  reduce(): this {
    return this.byte(0x52);
  }
  /** BINPERSID: the value on top becomes a persistent id. */
  persistentId(): this {
    return this.byte(0x51);
  }
  /** STOP, and the finished pickle. */
  finish(): Uint8Array {
    this.byte(0x2e);
    return this.buf.slice(0, this.len);
  }
}
