/**
 * Names of the fused optimizer kernels (registered on webgpu by webgpu/register.ts, implemented in
 * webgpu/optimizer.ts) and whether the active backend has them; defense/optim.ts falls back to tf ops elsewhere.
 */
import { getBackend, getKernel } from '@tensorflow/tfjs';

export const OPTIMIZER_KERNELS = {
  sgd: 'MclSgdMomentum',
  adam: 'MclAdam',
} as const;

/** Whether the active backend has the fused kernel `name`. */
export function hasFusedKernel(name: string): boolean {
  return getKernel(name, getBackend()) != null;
}
