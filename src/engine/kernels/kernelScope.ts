/**
 * A kernel-level `tidy` for composite kernels: calls other registered kernels of one backend directly
 * (their kernelFunc, no engine bookkeeping, no tape) and frees every intermediate TensorInfo on `dispose`
 * except the ones handed back with `keep`.
 *
 * This is how tfjs's own backends build composite kernels (e.g. wasm BatchMatMul calls its Reshape kernel),
 * and it costs nothing per call beyond the kernels themselves, unlike running tf ops inside a kernel.
 */
import { getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';

/** Inputs of one kernel call, by the kernel's input names. */
export type KernelInputs = Record<string, TensorInfo>;

/** Calls kernels of `backendName` and owns their outputs until `keep` or `dispose`. */
export class KernelScope {
  private readonly owned: TensorInfo[] = [];

  constructor(
    readonly backend: KernelBackend,
    readonly backendName: string,
  ) {}

  /** Runs the registered kernel `name` on this backend; the output is owned by the scope. */
  run(name: string, inputs: KernelInputs, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(name, this.backendName);
    if (kernel == null) throw new Error(`KernelScope: kernel '${name}' is not registered for backend '${this.backendName}'`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`KernelScope: kernel '${name}' returned ${out.length} outputs; expected one`);
    this.owned.push(out);
    return out;
  }

  /** A float32 scalar tensor owned by the scope. */
  scalar(value: number): TensorInfo {
    const t: TensorInfo = { dataId: this.backend.write(Float32Array.of(value), [], 'float32'), shape: [], dtype: 'float32' };
    this.owned.push(t);
    return t;
  }

  /** Takes `t` out of the scope so `dispose` leaves it alone (the kernel's result). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.owned.indexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    return t;
  }

  /** Frees every output not kept. Reshape outputs share data with a reference count, so order does not matter. */
  dispose(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }

  // Shorthands for the kernels the convolution gradients use. Shapes in the comments are NHWC examples.

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Zero padding; `paddings` holds [before, after] per dimension. */
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  /** Plain NHWC convolution with explicit padding [[0,0],[top,bottom],[left,right],[0,0]]. */
  conv2d(
    x: TensorInfo,
    filter: TensorInfo,
    strides: [number, number],
    pad: [[number, number], [number, number], [number, number], [number, number]],
    dilations: [number, number] = [1, 1],
  ): TensorInfo {
    return this.run('Conv2D', { x, filter }, { strides, pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined } as unknown as NamedAttrMap);
  }
}

/** Runs `f` with a fresh scope and disposes every intermediate it did not keep, even when `f` throws. */
export function withKernelScope<T>(backend: KernelBackend, backendName: string, f: (s: KernelScope) => T): T {
  const scope = new KernelScope(backend, backendName);
  try {
    return f(scope);
  } finally {
    scope.dispose();
  }
}
