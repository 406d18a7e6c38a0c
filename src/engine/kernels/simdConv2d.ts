/**
 * Forward Conv2D / FusedConv2D (no bias, linear activation) with stride 1 on the WASM backend, through the
 * scatter kernel of simdConvInput.ts. A stride-1 convolution is the input-gradient scatter run backwards:
 *
 *   y[i] = sum_k x[i + k - pt] w[k]   (per spatial axis)   ==   y[j + k' - (K-1-pt)] += w[K-1-k'] x[j]
 *
 * i.e. conv2dBackpropInputSimd with dy := x, the filter flipped in space ([KH, KW, Ci, Co] is already the
 * [taps, reduced channels, written channels] layout it wants) and the front pad K-1-pt.
 *
 * Measured (batch 64, 1 thread, see trainBench): WRN-16-1's 3x3 stride-1 layers take ~15-20% less time than
 * tfjs-wasm's XNNPACK convolution (e.g. 11.2 ms against 13.2 for [64, 32, 32, 16] 16->16), more where relaxed
 * SIMD's fused multiply-add is available; slower for the 3-channel stem. Strided, dilated, NCHW, biased or
 * activated convolutions, Ci < 8 and Co % 4 != 0 go to the stock kernel.
 */
import { backend_util, type KernelBackend, type TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { withKernelScope } from './kernelScope';
import type { KernelArgs } from './override';
import { conv2dBackpropInputSimd } from './simdConvInput';

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** Fast path for Conv2D and FusedConv2D on wasm (see file comment); null lets the stock kernel run. */
export function conv2dStride1Simd({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = inputs;
  const a = attrs as unknown as ConvAttrs;
  if (bias != null || preluActivationWeights != null || (a.activation != null && a.activation !== 'linear')) return null;
  if (a.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  // The scatter re-reads and re-writes the output once per tap: with fewer than 8 input channels to reduce per
  // tap (the RGB stem) that costs more than it saves, so XNNPACK keeps those.
  if (info.outChannels % 4 !== 0 || info.inChannels < 8) return null;
  const { filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  if (top > KH - 1 || left > KW - 1) return null; // pads wider than the kernel: the scatter would need negative pads
  const g = {
    B: info.batchSize,
    H: info.outHeight, // written tensor: y
    W: info.outWidth,
    Ci: info.outChannels,
    OH: info.inHeight, // read tensor: x
    OW: info.inWidth,
    Co: info.inChannels,
    KH,
    KW,
    sh: 1,
    sw: 1,
    pt: KH - 1 - top,
    pl: KW - 1 - left,
  };
  return withKernelScope(backend as KernelBackend, 'wasm', (s) => {
    const flipped = s.reverse(filter, [0, 1]); // [KH, KW, Ci, Co]
    const y = conv2dBackpropInputSimd(backend as BackendWasm, x, flipped, g);
    return y == null ? null : s.keep(y);
  });
}
