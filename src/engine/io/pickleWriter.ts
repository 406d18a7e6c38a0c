/** A minimal pickle writer (pure TypeScript): what writeTorchCheckpoint needs. */

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
