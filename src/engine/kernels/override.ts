/**
 * Replacing a backend's registered kernel with a faster path that can decline (return null), in which case the
 * stock kernel runs: registering an override never loses functionality, and `restore` puts the stock back.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs';

/** What a kernelFunc receives. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** A fast path: the result, or null to let the stock kernel handle these inputs and attributes. */
export type FastPath = (args: KernelArgs) => TensorInfo | null;

/** Handle to undo one override. */
export interface Override {
  kernelName: string;
  restore(): void;
}

/**
 * Registers `fast` for kernelName on backendName in front of the stock kernel (if any).
 * The stock kernel's setupFunc is kept, so it is still set up when the backend initializes after this call.
 */
export function overrideKernel(kernelName: string, backendName: string, fast: FastPath): Override {
  const stock: KernelConfig | undefined = getKernel(kernelName, backendName);
  if (stock != null) unregisterKernel(kernelName, backendName);
  const kernelFunc = (args: KernelArgs) => {
    const out = fast(args);
    if (out != null) return out;
    if (stock == null) throw new Error(`${kernelName} on ${backendName}: these inputs are not supported and there is no stock kernel`);
    return stock.kernelFunc(args as Parameters<KernelFunc>[0]);
  };
  registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as KernelFunc, setupFunc: stock?.setupFunc, disposeFunc: stock?.disposeFunc });
  return {
    kernelName,
    restore() {
      unregisterKernel(kernelName, backendName);
      if (stock != null) registerKernel(stock);
    },
  };
}
