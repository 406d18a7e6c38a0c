/**
 * WebGPU in Node: Dawn (the WebGPU implementation inside Chrome) through the `webgpu` npm package, set up as
 * `navigator.gpu` for tfjs-backend-webgpu. The package is an optional dependency: it ships Dawn prebuilt
 * for five platforms (~130 MB unpacked) and only the `MCLDEF_BACKEND=webgpu` path needs it.
 *
 * Dawn loads the Vulkan loader `libvulkan.so.1` with dlopen. Without a system Vulkan loader (no GPU driver),
 * Debian's chromium ships one next to SwiftShader's software Vulkan driver; Node must then start with
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium
 * (LD_LIBRARY_PATH is read by the dynamic loader when the process starts, so it cannot be set from here).
 *
 * tfjs-backend-webgpu registers its backend at import time only if `navigator.gpu` already exists, which in Node
 * it does not: this module registers the backend itself, on the adapter it found, so import order does not matter.
 * Reads on this backend must be asynchronous (`await t.data()`): its readSync needs an OffscreenCanvas.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** SwiftShader's Vulkan driver as Debian's chromium ships it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Folder with the Vulkan loader that Debian's chromium ships. */
export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';

/** Priority tfjs-backend-webgpu gives its own registration (kept, so tf.ready() picks it the same way). */
const WEBGPU_PRIORITY = 3;

/** What prepareNodeWebGPU found. */
export interface NodeWebGPU {
  /** "vendor / architecture / description" of the adapter */
  adapter: string;
}

let prepared: Promise<NodeWebGPU> | null = null;

/** One line saying why no adapter was found and how to get SwiftShader's. */
function noAdapterMessage(): string {
  const hint = process.env.LD_LIBRARY_PATH?.includes(CHROMIUM_LIB_DIR)
    ? `VK_ICD_FILENAMES is ${process.env.VK_ICD_FILENAMES ?? 'unset'}`
    : `without a GPU driver start Node with VK_ICD_FILENAMES=${SWIFTSHADER_ICD} LD_LIBRARY_PATH=${CHROMIUM_LIB_DIR} (SwiftShader, from Debian's chromium)`;
  return `no WebGPU adapter: Dawn found no Vulkan device (it needs libvulkan.so.1 and a Vulkan driver; ${hint})`;
}

async function setUp(): Promise<NodeWebGPU> {
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = (await import('webgpu')) as typeof mod;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`the optional "webgpu" npm package (Dawn for Node) is missing or does not load here: ${why}; install it with npm install webgpu@0.6.2`);
  }
  // GPUBufferUsage, GPUMapMode, ... as globals, as a browser has them (tfjs-backend-webgpu uses them by name).
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter == null) throw new Error(noAdapterMessage());
  // Node 20 has no navigator; Node 21+ has one without gpu.
  const g = globalThis as { navigator?: object };
  if (g.navigator == null) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator!, 'gpu', { value: gpu, configurable: true });

  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, adapter.info);
    },
    WEBGPU_PRIORITY,
  );
  const info = adapter.info;
  return { adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unknown adapter' };
}

/**
 * Loads Dawn, finds an adapter and registers the 'webgpu' backend for it (once per process).
 * Throws one line naming what is missing: the package, or an adapter (with the SwiftShader settings).
 */
export function prepareNodeWebGPU(): Promise<NodeWebGPU> {
  prepared ??= setUp().catch((e) => {
    prepared = null;
    throw e;
  });
  return prepared;
}
