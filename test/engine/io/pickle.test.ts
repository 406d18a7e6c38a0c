/**
 * The safe unpickler: CPython's own pickles of every protocol decode to the expected values; globals outside the
 * allow-list are refused before anything after them runs; damaged and hostile input fails cleanly.
 * The hex pickles below were made with CPython 3.11's pickle.dumps (the comments give the Python value).
 */
import { describe, expect, it, vi } from 'vitest';
import { PickleRefusedError, PyGlobal, SET_STATE, unpickle, type AllowList } from '../../../src/engine/io/pickle';
import { PickleWriter } from '../../../src/engine/io/pickleWriter';

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const load = (b: Uint8Array, allowed: AllowList = {}): unknown => unpickle(b, { allowed }).value;

/** Maps to objects, so expectations can be written as literals. */
function toObj(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toObj(x)]));
  if (Array.isArray(v)) return v.map(toObj);
  return v;
}

// base = {'int': [0, 1, -1, 255, 256, 65535, 65536, -65536, 2**31-1, -2**31, 2**31, 2**53, -2**70, 2**70],
//         'float': [0.5, -1e300, float('inf')], 'none': None, 'bools': (True, False), 'str': 'héllo ☃ \n\\',
//         'tuples': ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)), 'nested': {'a': {'b': [1, [2, [3]]]}}}
const BASE: Record<number, string> = {
  0: '286470300a56696e740a70310a286c70320a49300a6149310a61492d310a61493235350a61493235360a614936353533350a614936353533360a61492d36353533360a6149323134373438333634370a61492d323134373438333634380a614c323134373438333634384c0a614c393030373139393235343734303939324c0a614c2d313138303539313632303731373431313330333432344c0a614c313138303539313632303731373431313330333432344c0a617356666c6f61740a70330a286c70340a46302e350a61462d31652b3330300a6146696e660a6173566e6f6e650a70350a4e7356626f6f6c730a70360a284930310a4930300a7470370a73567374720a70380a5668e96c6c6f205c7532363033205c75303030615c75303035630a70390a73567475706c65730a7031300a2828742849310a747031310a2849310a49320a747031320a2849310a49320a49330a747031330a2849310a49320a49330a49340a747031340a747031350a73566e65737465640a7031360a28647031370a56610a7031380a28647031390a56620a7032300a286c7032310a49310a61286c7032320a49320a61286c7032330a49330a6161617373732e',
  1: '7d7100285803000000696e7471015d7102284b004b014affffffff4bff4d00014dffff4a000001004a0000ffff4affffff7f4a000000804c323134373438333634384c0a4c393030373139393235343734303939324c0a4c2d313138303539313632303731373431313330333432344c0a4c313138303539313632303731373431313330333432344c0a655805000000666c6f617471035d710428473fe000000000000047fe37e43c8800759c477ff00000000000006558040000006e6f6e6571054e5805000000626f6f6c737106284930310a4930300a74710758030000007374727108580d00000068c3a96c6c6f20e29883200a5c710958060000007475706c6573710a2829284b0174710b284b014b0274710c284b014b024b0374710d284b014b024b034b0474710e74710f58060000006e657374656471107d711158010000006171127d711358010000006271145d7115284b015d7116284b025d71174b036165657373752e',
  2: '80027d7100285803000000696e7471015d7102284b004b014affffffff4bff4d00014dffff4a000001004a0000ffff4affffff7f4a000000808a0500000080008a07000000000000208a090000000000000000c08a09000000000000000040655805000000666c6f617471035d710428473fe000000000000047fe37e43c8800759c477ff00000000000006558040000006e6f6e6571054e5805000000626f6f6c737106888986710758030000007374727108580d00000068c3a96c6c6f20e29883200a5c710958060000007475706c6573710a28294b0185710b4b014b0286710c4b014b024b0387710d284b014b024b034b0474710e74710f58060000006e657374656471107d711158010000006171127d711358010000006271145d7115284b015d7116284b025d71174b036165657373752e',
  4: '800495fd000000000000007d94288c03696e74945d94284b004b014affffffff4bff4d00014dffff4a000001004a0000ffff4affffff7f4a000000808a0500000080008a07000000000000208a090000000000000000c08a09000000000000000040658c05666c6f6174945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c046e6f6e65944e8c05626f6f6c7394888986948c03737472948c0d68c3a96c6c6f20e29883200a5c948c067475706c65739428294b0185944b014b0286944b014b024b038794284b014b024b034b04749474948c066e6573746564947d948c0161947d948c0162945d94284b015d94284b025d944b036165657373752e',
};
const BASE_VALUE = {
  int: [0, 1, -1, 255, 256, 65535, 65536, -65536, 2147483647, -2147483648, 2147483648, 2n ** 53n, -(2n ** 70n), 2n ** 70n],
  float: [0.5, -1e300, Infinity],
  none: null,
  bools: [true, false],
  str: 'héllo ☃ \n\\',
  tuples: [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]],
  nested: { a: { b: [1, [2, [3]]] } },
};

describe('unpickle: CPython pickles', () => {
  it.each([0, 1, 2, 4])('decodes protocol %i', (p) => {
    const bytes = hex(BASE[p]);
    const { value, end } = unpickle(bytes, { allowed: {} });
    expect(end).toBe(bytes.length);
    expect(toObj(value)).toEqual(BASE_VALUE);
    // tuples come back frozen, lists mutable
    const m = value as Map<string, unknown>;
    expect(Object.isFrozen((m.get('tuples') as unknown[])[1])).toBe(true);
    expect(Object.isFrozen(m.get('int'))).toBe(false);
  });

  it('decodes bytes, sets, frozensets and bytearrays (protocol 5)', () => {
    // {'bytes': b'\x00\x01\xff', 'set': {1, 2}, 'fs': frozenset([3]), 'ba': bytearray(b'xy')}
    const v = load(hex('8005953c000000000000007d94288c0562797465739443030001ff948c03736574948f94284b014b02908c02667394284b0391948c02626194960200000000000000787994752e')) as Map<string, unknown>;
    expect(v.get('bytes')).toEqual(new Uint8Array([0, 1, 255]));
    expect(v.get('set')).toEqual(new Set([1, 2]));
    expect(v.get('fs')).toEqual(new Set([3]));
    expect(v.get('ba')).toEqual(ascii('xy'));
  });

  it('keeps memo sharing and cycles', () => {
    const shared = load(hex('80025d7100285d71014b01616801652e')) as unknown[][]; // s = [1]; [s, s]
    expect(shared[0]).toBe(shared[1]);
    const rec = load(hex('80025d71006800612e')) as unknown[]; // l = []; l.append(l)
    expect(rec[0]).toBe(rec);
  });

  it('reads several pickles in a row through offset/end', () => {
    const two = new Uint8Array([...hex('800343030001ff71002e'), ...hex('80025d71006800612e')]);
    const first = unpickle(two, { allowed: {} });
    expect(first.value).toEqual(new Uint8Array([0, 1, 255]));
    expect(Array.isArray(unpickle(two, { allowed: {}, offset: first.end }).value)).toBe(true);
  });
});

describe('unpickle: globals only through the allow-list', () => {
  it('refuses os.system (protocol 0 GLOBAL) without calling anything', () => {
    const decoy = vi.fn(() => 'called');
    // cos\nsystem\n(S'echo pwned'\ntR.  ==  os.system('echo pwned')
    const evil = ascii("cos\nsystem\n(S'echo pwned'\ntR.");
    let err: unknown;
    try {
      load(evil, { 'builtins.print': { call: decoy } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PickleRefusedError);
    expect((err as PickleRefusedError).global).toBe('os.system');
    expect((err as Error).message).toMatch(/refusing to load: the pickle references the Python global "os\.system" \(at byte 0\)/);
    expect(decoy).not.toHaveBeenCalled();
  });

  it('refuses STACK_GLOBAL and INST forms too', () => {
    // protocol 4: STACK_GLOBAL('os', 'system')('echo',)
    expect(() => load(hex('80048c026f738c0673797374656d938c046563686f85522e'))).toThrow(/"os\.system"/);
    expect(() => load(ascii("(S'x'\nisubprocess\ncall\n."))).toThrow(/"subprocess\.call"/);
  });

  it('stops at the refused global: calls before it ran, nothing after it does', () => {
    const spy = vi.fn((args: unknown[]) => `ok ${String(args[0])}`);
    const allowed: AllowList = { 'safe.f': { call: spy } };
    // [safe.f(1), os.system(...), safe.f(2)]
    const pickle = ascii("(csafe\nf\n(I1\ntRcos\nsystem\n(S'x'\ntRcsafe\nf\n(I2\ntRl.");
    expect(() => load(pickle, allowed)).toThrow(PickleRefusedError);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith([1]);
  });

  it('calls allowed globals with their arguments and hands referenced ones over as PyGlobal', () => {
    const w = new PickleWriter().proto(2);
    w.mark().global('m', 'f').int(5).str('a').tuple(2).reduce().global('m', 'ref').tuple();
    const [called, ref] = load(w.finish(), { 'm.f': { call: (a) => a.join('|') }, 'm.ref': {} }) as unknown[];
    expect(called).toBe('5|a');
    expect(ref).toBeInstanceOf(PyGlobal);
    expect((ref as PyGlobal).fullName).toBe('m.ref');
    // calling a reference-only global, or something that is not a global, fails
    expect(() => load(ascii('cm\nref\n)R.'), { 'm.ref': {} })).toThrow(/may only be referenced/);
    expect(() => load(ascii('I1\n)R.'))).toThrow(/calls a number/);
  });

  it('refuses the extension registry and out-of-band buffers', () => {
    expect(() => load(hex('8002820185522e'))).toThrow(/extension registry/);
    expect(() => load(hex('8005972e'))).toThrow(/out-of-band/);
  });

  it('passes persistent ids to persistentLoad, and refuses them without one', () => {
    const pl = vi.fn((pid: unknown) => ({ loaded: pid }));
    const w = new PickleWriter().proto(2).str('storage').int(7).tuple(2).persistentId();
    expect(unpickle(w.finish(), { allowed: {}, persistentLoad: pl }).value).toEqual({ loaded: ['storage', 7] });
    expect(() => load(ascii('Pkey\n.'))).toThrow(/persistent id .* no persistent_load/);
  });

  it('BUILD: dicts drop attributes, SET_STATE objects take them, others fail', () => {
    const got: unknown[] = [];
    const allowed: AllowList = { 'm.C': { call: () => ({ [SET_STATE]: (s: unknown) => got.push(s) }) }, 'm.P': { call: () => ({}) } };
    expect(load(ascii('}S\'attr\'\nb.'))).toEqual(new Map());
    load(ascii("cm\nC\n)RI3\nb."), allowed);
    expect(got).toEqual([3]);
    expect(() => load(ascii("cm\nP\n)RI3\nb."), allowed)).toThrow(/BUILD .* takes no state/);
  });
});

describe('unpickle: damaged and hostile input', () => {
  it('every truncation of a pickle fails with an Error, cut data with the byte count', () => {
    const full = hex(BASE[2]);
    for (let n = 0; n < full.length; n++) expect(() => unpickle(full.subarray(0, n), { allowed: {} }), `prefix ${n}`).toThrow(Error);
    // cut inside the first BINUNICODE ('int' at bytes 6-13)
    expect(() => load(full.subarray(0, 10))).toThrow('pickle data ends unexpectedly at byte 10');
  });

  it('caps marks, stack and memo', () => {
    expect(() => unpickle(new Uint8Array(20_000).fill(0x28), { allowed: {} })).toThrow(/MARKs nested deeper than 10000/);
    const many = new Uint8Array(3000).fill(0x4e); // NONE x 3000
    expect(() => unpickle(many, { allowed: {}, limits: { maxStack: 1000 } })).toThrow(/more than 1000 values on the stack/);
    const memo = new PickleWriter().proto(2);
    for (let i = 0; i < 20; i++) memo.global('m', `g${i}`); // each global is memoized
    const allowed = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`m.g${i}`, {}]));
    expect(() => unpickle(memo.finish(), { allowed, limits: { maxMemo: 10 } })).toThrow(/more than 10 memo entries/);
  });

  it('names unknown opcodes, bad protocols, stack underflow and bad memo reads', () => {
    expect(() => load(ascii('\xff'))).toThrow('pickle: unknown opcode 0xff at byte 0');
    expect(() => load(hex('8006'))).toThrow(/protocol 6/);
    expect(() => load(ascii('t.'))).toThrow(/no MARK/);
    expect(() => load(ascii('a.'))).toThrow(/stack underflow/);
    expect(() => load(hex('8002680a2e'))).toThrow(/memo entry 10 read before it was written/);
    expect(() => load(hex('80024b01854b02612e'))).toThrow(/APPEND.* on a tuple/);
  });
});
