/**
 * The Node WebGPU path's failures read as one line: an unknown MCLDEF_BACKEND, and a machine where Dawn finds no
 * Vulkan device (the CLI started without the SwiftShader variables, where no system Vulkan loader exists).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../../../src/platform/node/backend';

const SYSTEM_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
const noSystemVulkan = !SYSTEM_LOADERS.some((p) => existsSync(p));

describe('the Node WebGPU path explains failures in one line', () => {
  it('rejects an unknown backend name', async () => {
    await expect(initNodeBackend('webgl2' as never)).rejects.toThrow(/^unknown backend "webgl2"; expected one of: wasm, cpu, webgpu$/);
  });

  it.skipIf(!noSystemVulkan)('says there is no adapter and how to get SwiftShader\'s, when Vulkan cannot load', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, MCLDEF_BACKEND: 'webgpu' };
    delete env.LD_LIBRARY_PATH;
    delete env.VK_ICD_FILENAMES;
    const r = spawnSync(process.execPath, ['bin/mcldef.js', 'eval', '--model', 'models/badnets', '--data', 'nowhere'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    const line = r.stderr.split('\n').find((l) => l.startsWith('mcldef eval: error:'));
    expect(line, r.stderr).toMatch(/no WebGPU adapter: Dawn found no Vulkan device .*VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd.json LD_LIBRARY_PATH=\/usr\/lib\/chromium/);
  });
});
