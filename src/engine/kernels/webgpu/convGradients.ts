/**
 * The two convolution gradients on WebGPU as tiled matrix products (tiledMatmul.ts) with implicit im2col, NHWC:
 *
 * Conv2DBackpropFilter  dw[kh, kw, ci, co] = sum over (b, oh, ow) of x[b, oh*sh - pt + kh, ow*sw - pl + kw, ci]
 *                       * dy[b, oh, ow, co]:  M = KH*KW*Ci rows, N = Co columns, K = B*OH*OW, split over K.
 *   tfjs-backend-webgpu 4.22 gives each output element one thread that walks all of K: 3x3x16x16 = 2,304 threads
 *   for a 65,536-long sum at 32x32, batch 64 (91% of a training step's GPU time on an H200).
 * Conv2DBackpropInput   dx[b, ih, iw, ci] = sum over (kh, kw, co) of dy[b, oh, ow, co] * w[kh, kw, ci, co] with
 *                       oh = (ih + pt - kh) / sh where that divides exactly and lies in range (0 otherwise):
 *   M = B*H*W, N = Ci, K = KH*KW*Co; no split needed (M is large).
 * Both decline (stock kernel) for NCHW, dilations other than 1 and non-float32 inputs.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs';
import type { KernelArgs } from '../override';
import { finishSplits, splitReduction, type WebGPUBackendLike } from './program';
import { MATMUL_K_SLICE, tiledMatmulProgram } from './tiledMatmul';

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function convInfo(xShape: number[], filterShape: number[], a: ConvGradAttrs): backend_util.Conv2DInfo | null {
  if (a.dataFormat === 'NCHW') return null;
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** Threads one split of a product uses: 256 per 32 x 32 tile. */
const threadsPerSplit = (M: number, N: number) => Math.ceil(M / 32) * Math.ceil(N / 32) * 256;

/** Conv2DBackpropFilter on webgpu (see file comment); null declines. */
export function conv2dBackpropFilterWebGPU({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x, dy } = inputs;
  const a = attrs as unknown as ConvGradAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || a.filterShape == null) return null;
  const c = convInfo(x.shape, a.filterShape, a);
  if (c == null || c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const [KH, KW, Ci, Co] = [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels];
  const M = KH * KW * Ci;
  const K = c.batchSize * c.outHeight * c.outWidth;
  const { splits, chunk } = splitReduction(K, threadsPerSplit(M, Co), MATMUL_K_SLICE);
  const program = tiledMatmulProgram({
    key: `dw_${c.inHeight}x${c.inWidth}_${c.outHeight}x${c.outWidth}_s${c.strideHeight}${c.strideWidth}_p${c.padInfo.top}${c.padInfo.left}_${KH}${KW}`,
    M,
    N: Co,
    K,
    splits,
    chunk,
    // A[m = (kh, kw, ci), k = (b, oh, ow)] = x at the input pixel tap (kh, kw) of output pixel (oh, ow) reads
    loadA: `
      let kh = m / ${KW * Ci}; let kw = (m / ${Ci}) % ${KW}; let ci = m % ${Ci};
      let b = k / ${c.outHeight * c.outWidth}; let oh = (k / ${c.outWidth}) % ${c.outHeight}; let ow = k % ${c.outWidth};
      let ih = oh * ${c.strideHeight} - ${c.padInfo.top} + kh;
      let iw = ow * ${c.strideWidth} - ${c.padInfo.left} + kw;
      if (ih < 0 || ih >= ${c.inHeight} || iw < 0 || iw >= ${c.inWidth}) { return 0.0; }
      return x[((b * ${c.inHeight} + ih) * ${c.inWidth} + iw) * ${Ci} + ci];`,
    loadB: `return dy[k * ${Co} + n];`, // dy as [B*OH*OW, Co]
    aKFast: false,
    bKFast: false,
    variableNames: ['x', 'dy'],
    outputShape: [KH, KW, Ci, Co],
  });
  const b = backend as WebGPUBackendLike;
  const out = b.runWebGPUProgram(program, [x, dy], 'float32');
  return splits === 1 ? out : finishSplits(b, out, splits, [KH, KW, Ci, Co]);
}

/** Conv2DBackpropInput on webgpu (see file comment); null declines. */
export function conv2dBackpropInputWebGPU({ inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { dy, filter } = inputs;
  const a = attrs as unknown as ConvGradAttrs;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32' || a.inputShape == null) return null;
  const c = convInfo(a.inputShape, filter.shape, a);
  if (c == null || c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const [KH, KW, Ci, Co] = [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels];
  const [B, H, W] = [c.batchSize, c.inHeight, c.inWidth];
  const [OH, OW, SH, SW] = [c.outHeight, c.outWidth, c.strideHeight, c.strideWidth];
  const program = tiledMatmulProgram({
    key: `dx_${H}x${W}_${OH}x${OW}_s${SH}${SW}_p${c.padInfo.top}${c.padInfo.left}_${KH}${KW}`,
    M: B * H * W,
    N: Ci,
    K: KH * KW * Co,
    splits: 1,
    chunk: KH * KW * Co,
    // A[m = (b, ih, iw), k = (kh, kw, co)] = dy at the output pixel whose tap (kh, kw) lands on (ih, iw)
    loadA: `
      let b = m / ${H * W}; let ih = (m / ${W}) % ${H}; let iw = m % ${W};
      let kh = k / ${KW * Co}; let kw = (k / ${Co}) % ${KW}; let co = k % ${Co};
      let th = ih + ${c.padInfo.top} - kh;
      let tw = iw + ${c.padInfo.left} - kw;
      if (th < 0 || tw < 0 || th % ${SH} != 0 || tw % ${SW} != 0) { return 0.0; }
      let oh = th / ${SH}; let ow = tw / ${SW};
      if (oh >= ${OH} || ow >= ${OW}) { return 0.0; }
      return dy[((b * ${OH} + oh) * ${OW} + ow) * ${Co} + co];`,
    // B[k = (kh, kw, co), n = ci] = w[kh, kw, ci, co]
    loadB: `
      let khw = k / ${Co}; let co = k % ${Co};
      return w[(khw * ${Ci} + n) * ${Co} + co];`,
    aKFast: true,
    bKFast: true,
    variableNames: ['dy', 'w'], // 'filter' is a reserved word in WGSL
    outputShape: [B, H, W, Ci],
  });
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, [dy, filter], 'float32');
}
