/**
 * The small amount of tfjs-backend-webgpu (4.22) these kernels rely on: a WebGPUProgram object (WGSL user code,
 * workgroup size, dispatch) run by the backend's `runWebGPUProgram`, which prepends the bindings (`result` at
 * binding 0, inputs by `variableNames`, then uniforms), caches the pipeline by `shaderKey` and records one
 * dispatch into the backend's command encoder.
 *
 * Every program here bakes its sizes into the WGSL as constants, so `shaderKey` names all of them: one pipeline
 * per layer shape, compiled once (WRN-16-1 has a handful of shapes).
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** The part of tfjs-backend-webgpu's WebGPUBackend these kernels call. */
export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: TensorInfo[], outputDtype: DataType): TensorInfo;
  disposeData(dataId: object): boolean;
}

/** Name of the backend these kernels are registered on. */
export const WEBGPU = 'webgpu';

/**
 * tfjs binds its uniform buffer (NaN, shapes, ...) to every program, but a pipeline with layout 'auto' drops
 * bindings the shader never reads, and the bind group then fails validation: every main reads it once.
 */
function touchUniforms(code: string): string {
  return code.replace(/fn main\(([^)]*)\)\s*\{/, (m) => `${m}\n      _ = uniforms.NAN;`);
}

/** Threads per workgroup of the one-dimensional programs. */
export const FLAT_WORKGROUP = 64;

/**
 * A program with one thread per output element up to `threads`, `fn main(index: i32)` in `body`'s code.
 * @param key unique name of the code, including every constant baked into it
 */
export function flatProgram(key: string, variableNames: string[], outputShape: number[], threads: number, code: string): WebGPUProgram {
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(threads / FLAT_WORKGROUP), 1, 1],
    workgroupSize: [FLAT_WORKGROUP, 1, 1],
    getUserCode: () => touchUniforms(code),
  } as WebGPUProgram;
}

/**
 * A program on a 3-D grid of workgroups (`fn main()`, using the builtins localId, localIndex, workgroupId that
 * tfjs's header sets); the output's coordinates are not derived from the dispatch.
 */
export function gridProgram(
  key: string,
  variableNames: string[],
  outputShape: number[],
  dispatch: [number, number, number],
  workgroupSize: [number, number, number],
  code: string,
): WebGPUProgram {
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: [0], y: [1], z: [2] },
    dispatch,
    workgroupSize,
    getUserCode: () => touchUniforms(code),
  } as WebGPUProgram;
}

/** A float literal WGSL accepts (always with a decimal point or exponent). */
export function f32(v: number): string {
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** Number of sequential summands per thread that the split reductions aim for. */
const CHUNK_TARGET = 256;
/** Threads the split reductions aim to run at once: enough to fill a large GPU (an H200 holds ~270k). */
const PARALLEL_TARGET = 1 << 17;

/**
 * Splits a reduction of length `length`, done by `lanes` threads per split, into parallel chunks: a chunk of at
 * least `minChunk` (rounded up to a multiple of `multiple`), and enough splits for about PARALLEL_TARGET threads.
 */
export function splitReduction(length: number, lanes: number, multiple = 1, minChunk = CHUNK_TARGET): { splits: number; chunk: number } {
  const wanted = Math.max(1, Math.ceil(PARALLEL_TARGET / Math.max(1, lanes)));
  let chunk = Math.max(minChunk, Math.ceil(length / wanted));
  chunk = Math.ceil(chunk / multiple) * multiple;
  return { splits: Math.max(1, Math.ceil(length / chunk)), chunk };
}

/**
 * Second pass of a split reduction: partial [splits, n] -> out (n elements, shape `outShape`), summed over the
 * splits in order (deterministic), times `scale`.
 */
export function sumSplitsProgram(splits: number, n: number, outShape: number[], scale = 1): WebGPUProgram {
  return flatProgram(`mcl_sumsplits_${splits}_${n}_${scale}`, ['partial'], outShape, n, `
    fn main(index : i32) {
      if (index >= ${n}) { return; }
      var s = 0.0;
      for (var i = 0; i < ${splits}; i++) { s += partial[i * ${n} + index]; }
      result[index] = s * ${f32(scale)};
    }`);
}

/** Runs a split reduction's second pass on `partial` and frees it; returns the summed tensor. */
export function finishSplits(backend: WebGPUBackendLike, partial: TensorInfo, splits: number, outShape: number[], scale = 1): TensorInfo {
  const n = outShape.reduce((p, d) => p * d, 1);
  const out = backend.runWebGPUProgram(sumSplitsProgram(splits, n, outShape, scale), [partial], 'float32');
  backend.disposeData(partial.dataId);
  return out;
}
