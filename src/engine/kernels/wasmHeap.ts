/**
 * Instantiating the project's run-time-emitted WebAssembly kernels (wasmAsm.ts) on tfjs-backend-wasm's own heap:
 * the module imports the backend's WebAssembly.Memory, so kernels read and write tensors in place through the
 * byte offsets the backend keeps for them (`dataIdMap.get(dataId).memoryOffset`). Modules are small (< 4 KB, so
 * even browsers that limit synchronous compilation on the main thread accept them) and cached per heap.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { assembleModule, FnBuilder, V128 } from './wasmAsm';

/** An exported kernel: i32 arguments (pointers into the heap, sizes), no result. */
export type HeapKernel = (...args: number[]) => void;

// The engine's tsconfig has no DOM library, which is where TypeScript declares WebAssembly; the few members used:
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface WasmModuleLike {
  asm?: { memory?: WasmMemory };
  wasmMemory?: WasmMemory;
}

const instances = new WeakMap<WasmMemory, Map<string, HeapKernel | null>>();

let relaxed: boolean | undefined;
/**
 * Whether this engine validates relaxed-SIMD f32x4.relaxed_madd (Chrome 114+, Firefox 120+; Node 20 only with
 * --experimental-wasm-relaxed-simd). Where it does, the tiles use it: one fused multiply-add per vector instead of
 * a multiply and an add (results may differ from unfused by a rounding, well within the tests' 1e-4).
 */
export function relaxedSimdSupported(): boolean {
  if (relaxed === undefined) {
    const f = new FnBuilder('t', 1);
    const v = f.local(V128);
    f.get(0).v128Load32Splat(0).get(0).v128Load32Splat(0).get(0).v128Load32Splat(0).f32x4RelaxedMadd().set(v);
    try {
      relaxed = wasmApi != null && wasmApi.validate(assembleModule([f], false));
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/**
 * The exported function `name` of the module `build` emits, instantiated on this backend's heap (cached per heap),
 * or null where WASM SIMD or the heap's Memory object is unavailable.
 */
export function instantiateOnHeap(backend: BackendWasm, name: string, build: (shared: boolean) => Uint8Array): HeapKernel | null {
  const mod = backend.wasm as WasmModuleLike;
  const memory = mod.asm?.memory ?? mod.wasmMemory;
  if (wasmApi == null || !(memory instanceof wasmApi.Memory)) return null;
  let byName = instances.get(memory);
  if (byName == null) instances.set(memory, (byName = new Map()));
  if (byName.has(name)) return byName.get(name) ?? null;
  let fn: HeapKernel | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const instance = new wasmApi.Instance(new wasmApi.Module(build(shared)), { env: { memory } });
    fn = instance.exports[name] as HeapKernel;
  } catch {
    fn = null; // no SIMD here: callers use the XNNPACK formulations
  }
  byName.set(name, fn);
  return fn;
}
