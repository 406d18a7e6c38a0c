import { defineConfig } from 'vitest/config';
import { useSwiftShaderIfNoVulkan } from './test/engine/kernels/webgpu/swiftshaderEnv';

// WebGPU tests on SwiftShader where there is no GPU: set before the workers fork (see the helper).
useSwiftShaderIfNoVulkan();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
