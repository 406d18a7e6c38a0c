/**
 * A safe Python unpickler (pure TypeScript).
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
 * Beside it: pickleNumpy.ts (NUMPY_GLOBALS, data-only stand-ins for numpy scalars, arrays and dtypes, for pickles
 * that keep numpy values beside their data) and pickleWriter.ts (the few opcodes a checkpoint writer needs).
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

/** A bigint as a number when it is a safe integer (pickle ints beyond 2^53 stay bigint). */
export function narrow(v: bigint): number | bigint {
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
