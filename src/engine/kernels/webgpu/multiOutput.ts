/**
 * Programs that write several tensors in one dispatch, which tfjs-backend-webgpu's `runWebGPUProgram` cannot
 * express (it binds exactly one `result`). An optimizer step writes a parameter and its momentum; a BatchNorm
 * statistics pass writes the batch moments and both running averages: one dispatch each instead of two or three.
 *
 * The dispatch goes into the backend's own command encoder and compute pass, in order with the programs tfjs
 * records, following the backend's bookkeeping (4.22): the tensors it touches are marked as owned by the pending
 * command queue (so a disposal waits for the submit), the pass is submitted every
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches, and under tf.profile / tf.time each dispatch gets a timestamp
 * query like the backend's own. The WGSL is complete (bindings included): outputs first, read_write, at bindings
 * 0..k-1, then the inputs, read-only, in order. The code reads `index`, the flat thread index, and guards it.
 */
import { env, type DataType, type TensorInfo } from '@tensorflow/tfjs';
import { FLAT_WORKGROUP, type WebGPUBackendLike } from './program';

/** The parts of tfjs-backend-webgpu's backend (4.22) a direct dispatch uses, beyond WebGPUBackendLike. */
interface BackendInternals extends WebGPUBackendLike {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers: Array<{ name: string; query: Promise<number> }> | null;
  supportTimestampQuery: boolean;
  querySet: GPUQuerySet | null;
  querySetCount: number;
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorToBinding(t: TensorInfo): GPUBindingResource;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
}

/** A program with several outputs. */
export interface MultiOutputProgram {
  /** Unique name of the code (every constant baked into it); pipelines are cached by it. */
  key: string;
  /** Shapes of the float32 outputs, bound as out0, out1, ... */
  outputs: number[][];
  /** Names the inputs are bound as, in the order of the tensors passed. */
  inputNames: string[];
  /** Threads to run (one per `index`). */
  threads: number;
  /** WGSL statements of the body of main, with `index : i32` defined. */
  body: string;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Largest number of workgroups along one dispatch dimension WebGPU guarantees. */
const MAX_GROUPS = 65535;

function source(p: MultiOutputProgram, nx: number): string {
  const outs = p.outputs.map((_, i) => `@group(0) @binding(${i}) var<storage, read_write> out${i} : array<f32>;`);
  const ins = p.inputNames.map((n, i) => `@group(0) @binding(${p.outputs.length + i}) var<storage, read> ${n} : array<f32>;`);
  return `${[...outs, ...ins].join('\n')}
@compute @workgroup_size(${FLAT_WORKGROUP}, 1, 1)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let index = i32(gid.y * ${nx * FLAT_WORKGROUP}u + gid.x);
  if (index >= ${p.threads}) { return; }
  ${p.body}
}`;
}

/** Observers of direct dispatches (the benchmark counts them with tfjs's own). */
const observers = new Set<(key: string) => void>();

/** Calls `f` with each multi-output program's key as it is dispatched, until the returned function is called. */
export function observeMultiOutputDispatches(f: (key: string) => void): () => void {
  observers.add(f);
  return () => observers.delete(f);
}

/**
 * Records one dispatch of `p` on the backend's queue and returns its new output tensors (float32).
 * Inputs must be float32 tensors of this backend.
 */
export function runMultiOutput(backendIn: WebGPUBackendLike, p: MultiOutputProgram, inputs: TensorInfo[]): TensorInfo[] {
  const b = backendIn as BackendInternals;
  if (inputs.length !== p.inputNames.length) throw new Error(`${p.key}: ${inputs.length} inputs for ${p.inputNames.length} names`);
  const outputs = p.outputs.map((shape) => b.makeTensorInfo(shape, 'float32'));
  for (const t of [...outputs, ...inputs]) {
    b.uploadToGPU(t.dataId);
    b.commandQueueOwnedIds.add(t.dataId);
  }
  const groups = Math.max(1, Math.ceil(p.threads / FLAT_WORKGROUP));
  const nx = Math.min(groups, MAX_GROUPS);
  const ny = Math.ceil(groups / nx);
  let cache = pipelines.get(b.device);
  if (cache == null) pipelines.set(b.device, (cache = new Map()));
  const cacheKey = `${p.key}|${nx}`;
  let pipeline = cache.get(cacheKey);
  if (pipeline == null) {
    const module = b.device.createShaderModule({ code: source(p, nx) });
    pipeline = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(cacheKey, pipeline);
  }
  const bindGroup = b.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [...outputs, ...inputs].map((t, i) => ({ binding: i, resource: b.tensorToBinding(t) })),
  });
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  const encoder = b.commandEncoder as GPUCommandEncoder;
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder();
    if (b.querySet == null) b.querySet = b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount });
    b.computePassEncoder = encoder.beginComputePass({ timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  } else if (b.computePassEncoder == null) {
    b.computePassEncoder = encoder.beginComputePass({});
  }
  const pass = b.computePassEncoder as GPUComputePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(nx, ny, 1);
  b.dispatchCountInPass++;
  for (const f of observers) f(p.key);
  if (timed || (env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers!.push({ name: p.key, query: b.getQueryTime() });
    else b.submitQueue();
  }
  return outputs;
}
