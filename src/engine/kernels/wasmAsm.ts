/**
 * A minimal WebAssembly binary writer: just enough to emit small SIMD kernels at run time (no toolchain in the
 * repository or the browser). Functions take i32 parameters, use i32/f32/v128 locals and import one memory,
 * which is tfjs-backend-wasm's own heap, so a kernel reads and writes tensors in place.
 *
 * Opcodes follow the WebAssembly core spec (MVP + fixed-width SIMD, 0xFD prefix).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function str(s: string, out: number[]): void {
  uleb(s.length, out);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  out.push(...body);
}

/** One function body under construction; methods append instructions and return `this`. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(
    readonly name: string,
    readonly numParams: number,
    readonly exported = true,
  ) {}

  /** Declares a local (after the parameters) and returns its index. */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.numParams + this.localTypes.length - 1;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(opcode: number): this {
    this.code.push(0xfd);
    uleb(opcode, this.code);
    return this;
  }

  private memarg(align: number, offset: number): this {
    uleb(align, this.code);
    uleb(offset, this.code);
    return this;
  }

  get(i: number): this {
    this.op(0x20);
    uleb(i, this.code);
    return this;
  }
  set(i: number): this {
    this.op(0x21);
    uleb(i, this.code);
    return this;
  }
  tee(i: number): this {
    this.op(0x22);
    uleb(i, this.code);
    return this;
  }
  i32(v: number): this {
    this.op(0x41);
    sleb(v | 0, this.code);
    return this;
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  shl(): this {
    return this.op(0x74);
  }
  ltS(): this {
    return this.op(0x48);
  }
  geS(): this {
    return this.op(0x4e);
  }
  eqz(): this {
    return this.op(0x45);
  }
  eq(): this {
    return this.op(0x46);
  }
  gtS(): this {
    return this.op(0x4a);
  }
  /** i32.le_s */
  le(): this {
    return this.op(0x4c);
  }
  and(): this {
    return this.op(0x71);
  }
  shrU(): this {
    return this.op(0x76);
  }
  /** select: a if cond != 0 else b, for (a, b, cond) on the stack. */
  select(): this {
    return this.op(0x1b);
  }
  /** Pushes min(local, c) (signed). */
  minConst(local: number, c: number): this {
    return this.get(local).i32(c).get(local).i32(c).ltS().select();
  }
  call(fnIndex: number): this {
    this.op(0x10);
    uleb(fnIndex, this.code);
    return this;
  }
  /** block ... end (empty result). */
  block(body: () => void): this {
    this.op(0x02, 0x40);
    body();
    return this.op(0x0b);
  }
  /** loop ... end (empty result); `br 0` inside restarts it. */
  loop(body: () => void): this {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }
  /** if ... (else ...) end on the i32 on the stack. */
  if(then: () => void, otherwise?: () => void): this {
    this.op(0x04, 0x40);
    then();
    if (otherwise) {
      this.op(0x05);
      otherwise();
    }
    return this.op(0x0b);
  }
  br(depth: number): this {
    this.op(0x0c);
    uleb(depth, this.code);
    return this;
  }
  brIf(depth: number): this {
    this.op(0x0d);
    uleb(depth, this.code);
    return this;
  }
  /** for (i = from; i < to; i += step) body, with `from`/`to` pushed by the callbacks; i is an i32 local. */
  forRange(i: number, from: () => void, to: number, step: number, body: () => void): this {
    from();
    this.set(i);
    return this.block(() => {
      this.get(i).get(to).geS().brIf(0);
      this.loop(() => {
        body();
        this.get(i).i32(step).add().tee(i).get(to).ltS().brIf(0);
      });
    });
  }
  f32Load(offset = 0): this {
    return this.op(0x2a).memarg(2, offset);
  }
  v128Load(offset = 0): this {
    return this.simd(0x00).memarg(2, offset);
  }
  /** Loads one f32 and splats it to all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09).memarg(2, offset);
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b).memarg(2, offset);
  }
  /** v128.const of 16 zero bytes. */
  v128Zero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  /** relaxed-simd f32x4.relaxed_madd: a * b + c for (a, b, c) on the stack (fused or not, engine's choice). */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }

  /** The function body as the code section wants it: locals grouped by type, instructions, end. */
  body(): number[] {
    const groups: Array<[number, ValType]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const b: number[] = [];
    uleb(groups.length, b);
    for (const [n, t] of groups) {
      uleb(n, b);
      b.push(t);
    }
    b.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(b.length, out);
    out.push(...b);
    return out;
  }
}

/**
 * Assembles functions (all `(i32 x numParams) -> ()`) into a module that imports `env.memory`.
 * @param shared whether the memory is a shared (threaded build) memory
 */
export function assembleModule(fns: FnBuilder[], shared: boolean): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // Types: one per distinct parameter count.
  const arities = [...new Set(fns.map((f) => f.numParams))];
  const types: number[] = [];
  uleb(arities.length, types);
  for (const n of arities) {
    types.push(0x60);
    uleb(n, types);
    for (let i = 0; i < n; i++) types.push(I32);
    types.push(0x00);
  }
  section(1, types, out);
  // Import the heap; no maximum unless shared (shared memories must declare one: 4 GiB covers any).
  const imports: number[] = [];
  uleb(1, imports);
  str('env', imports);
  str('memory', imports);
  imports.push(0x02);
  if (shared) {
    imports.push(0x03);
    uleb(1, imports);
    uleb(65536, imports);
  } else {
    imports.push(0x00);
    uleb(1, imports);
  }
  section(2, imports, out);
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  for (const f of fns) uleb(arities.indexOf(f.numParams), funcs);
  section(3, funcs, out);
  const exported = fns.filter((f) => f.exported);
  const exps: number[] = [];
  uleb(exported.length, exps);
  for (const f of exported) {
    str(f.name, exps);
    exps.push(0x00);
    uleb(fns.indexOf(f), exps);
  }
  section(7, exps, out);
  const code: number[] = [];
  uleb(fns.length, code);
  for (const f of fns) code.push(...f.body());
  section(10, code, out);
  return new Uint8Array(out);
}
