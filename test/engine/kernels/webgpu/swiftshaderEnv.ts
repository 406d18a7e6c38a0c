/**
 * Lets `npm test` reach a WebGPU adapter on machines without a GPU driver: Dawn (the `webgpu` package) dlopens
 * libvulkan.so.1, which only the dynamic loader's search path finds, and LD_LIBRARY_PATH is read when a process
 * starts. vitest.config.ts calls this in the main process, before it forks the test workers, so they inherit it.
 * It changes nothing where a Vulkan loader is installed (a GPU machine) or where the variables are already set,
 * and nothing where Debian's chromium (SwiftShader) is absent: the WebGPU tests then skip and say why.
 */
import { existsSync } from 'node:fs';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LIB_DIR = '/usr/lib/chromium';
/** Where Debian/Ubuntu and Fedora put a system Vulkan loader. */
const SYSTEM_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

/** Sets VK_ICD_FILENAMES and LD_LIBRARY_PATH for SwiftShader when nothing else provides Vulkan. */
export function useSwiftShaderIfNoVulkan(env: NodeJS.ProcessEnv = process.env): void {
  if (env.VK_ICD_FILENAMES || SYSTEM_LOADERS.some((p) => existsSync(p))) return;
  if (!existsSync(ICD) || !existsSync(`${LIB_DIR}/libvulkan.so.1`)) return;
  env.VK_ICD_FILENAMES = ICD;
  env.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH ? `${env.LD_LIBRARY_PATH}:${LIB_DIR}` : LIB_DIR;
}
