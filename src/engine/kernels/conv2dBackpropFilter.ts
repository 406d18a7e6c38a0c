/**
 * Conv2DBackpropFilter for the WASM backend (tfjs-backend-wasm 4.22 has none, so training fails there).
 *
 * Forward: y[b, oh, ow, co] = sum_{kh, kw, ci} x[b, oh*s + kh - pt, ow*s + kw - pl, ci] * w[kh, kw, ci, co]
 * Filter gradient:  dw[kh, kw, ci, co] = sum_{b, oh, ow} x[b, oh*s + kh - pt, ow*s + kw - pl, ci] * dy[b, oh, ow, co]
 *
 * 1. First choice: the run-time-emitted WASM SIMD kernel in simdConvFilter.ts, in place on NHWC data (needs
 *    SIMD, float32 and Co % 4 == 0): about the forward convolution's time.
 * 2. Otherwise the reduction as an XNNPACK convolution, once the batch moves into the channel slot:
 *      input  xT  = x  transposed to [Ci, H, W, B]      ("batch" Ci, channels B)
 *      filter dyT = dy transposed to [OH, OW, B, Co]    (a huge OHxOW kernel, dilated by the forward stride)
 *      conv2d(xT, dyT, stride 1, dilation s, pads top/left = forward pads) -> [Ci, KH, KW, Co] -> [KH, KW, Ci, Co]
 *    Measured 2-3x the forward convolution on WRN-16-1's 3x3 layers and 10x on the 1x1 stride-2 shortcuts:
 *    XNNPACK's GEMM is tiled for small filters and this one is [OH*OW*B, Co]. Splitting the batch into chunks
 *    (smaller packed filter) did not help. Slower still were: im2col^T [9*Ci, N] from strided slices times
 *    dy [N, Co] (every slice copies the activation), and matMul(x, dy, transposeA) per tap (tfjs-wasm runs
 *    transposed BatchMatMul as a scalar loop).
 */
import { backend_util, type KernelBackend, type TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { withKernelScope } from './kernelScope';
import { conv2dBackpropFilterSimd } from './simdConvFilter';

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Attributes of the Conv2DBackpropFilter kernel (tfjs-core's Conv2DBackpropFilterAttrs). */
export interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * dw [KH, KW, Ci, Co] from x [B, H, W, Ci] and dy [B, OH, OW, Co] (NHWC only, like wasm's own Conv2D).
 * @param backendName the backend whose Transpose/Slice/Conv2D kernels do the work
 */
export function conv2dBackpropFilterVia(
  backendName: string,
  backend: KernelBackend,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: BackpropFilterAttrs,
  useSimd = true,
): TensorInfo {
  if (attrs.dataFormat === 'NCHW') throw new Error(`Conv2DBackpropFilter on ${backendName}: only NHWC is supported (as by its Conv2D)`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // The dilated dy kernel spans (OH-1)*sh+1 rows; output rows = paddedRows - span + 1 must be KH.
  const bottom = KH + (OH - 1) * sh - H - top;
  const right = KW + (OW - 1) * sw - W - left;
  const simd = !useSimd || backendName !== 'wasm' ? null : conv2dBackpropFilterSimd(backend as BackendWasm, x, dy, { B, H, W, Ci, OH, OW, Co, KH, KW, sh, sw, pt: top, pl: left });
  if (simd != null) return simd;
  return withKernelScope(backend, backendName, (s) => {
    let xT = s.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, B]
    if (bottom < 0 || right < 0) {
      // Rows/cols past the last window (stride leftovers) never meet dy: crop them instead of padding.
      xT = s.slice(xT, [0, 0, 0, 0], [Ci, H + Math.min(bottom, 0), W + Math.min(right, 0), B]);
    }
    const dyT = s.transpose(dy, [1, 2, 0, 3]); // [OH, OW, B, Co]
    const pads: Pads = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
    const r = s.conv2d(xT, dyT, [1, 1], pads, [sh, sw]); // [Ci, KH, KW, Co]
    const dw = s.transpose(r, [1, 2, 0, 3]); // [KH, KW, Ci, Co]
    if (dw.shape.join() !== [KH, KW, Ci, Co].join()) throw new Error(`Conv2DBackpropFilter: got [${dw.shape}], expected [${[KH, KW, Ci, Co]}]`);
    return s.keep(dw);
  });
}
