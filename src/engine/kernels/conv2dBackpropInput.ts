/**
 * Conv2DBackpropInput for the WASM backend, as a forward convolution that XNNPACK runs (the stock wasm kernel
 * is a scalar loop, ~10x slower than the forward convolution of the same layer).
 *
 * Forward: y[b, o, ...] = sum_k xpad[b, o*s + k - pt, ...] w[k, ...] (1-D along each spatial axis for brevity).
 * Input gradient:  dx[i] = sum_{o, k : o*s + k - pt = i} dy[o] * w[k]
 * Dilate dy with s-1 zeros between rows (dy'[o*s] = dy[o], length L = (OH-1)*s + 1); with the flipped filter
 * wf[k'] = w[K-1-k'] (channels swapped, [KH, KW, Co, Ci]) this is a plain stride-1 correlation:
 *   dx[i] = sum_k' dy'[i - (K-1-pt) + k'] * wf[k']    => pads: before K-1-pt, after H - L + pt
 * Stride 1 (most WRN convolutions) needs no dilation at all: one conv2d of the layer's own size.
 * Stride s, 1x1 kernel (WRN shortcuts): the 1x1 conv commutes with the dilation, so run it at low resolution
 * and place the result on the stride grid with one zero pad (XNNPACK pads 6-D).
 * Stride s, KxK kernel: dilated dy, s*s times the useful MACs for that layer (2 of WRN-16-1's 15 convs).
 *
 * Falls back to the backend's stock kernel when the formulation does not apply (NCHW, pads larger than the
 * kernel), so registering this never loses functionality.
 */
import { backend_util, type KernelBackend, type TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { type KernelInputs, withKernelScope } from './kernelScope';
import { conv2dBackpropInputSimd } from './simdConvInput';

/** Attributes of the Conv2DBackpropInput kernel (tfjs-core's Conv2DBackpropInputAttrs). */
export interface BackpropInputAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** Phase rho of one spatial axis: which taps reach it and where its outputs sit. */
interface Phase {
  rho: number; // first tap, taps rho, rho + s, ...
  taps: number; // K_rho (0: this phase gets no gradient)
  i0: number; // first output row of the phase
  count: number; // M_rho, its number of output rows
  padBefore: number; // of dy, for the stride-1 correlation (negative: crop dy instead)
  padAfter: number;
}

function phases(inSize: number, outSize: number, k: number, stride: number, padFront: number): Phase[] {
  const list: Phase[] = [];
  for (let rho = 0; rho < stride; rho++) {
    const taps = Math.max(0, Math.ceil((k - rho) / stride));
    const i0 = (((rho - padFront) % stride) + stride) % stride;
    const count = i0 < inSize ? Math.ceil((inSize - i0) / stride) : 0;
    const m0 = (i0 + padFront - rho) / stride;
    const padBefore = taps - 1 - m0;
    list.push({ rho, taps, i0, count, padBefore, padAfter: count - outSize + m0 });
  }
  return list;
}

type Pads4 = [[number, number], [number, number], [number, number], [number, number]];

/**
 * dx [B, H, W, Ci] from dy [B, OH, OW, Co] and filter [KH, KW, Ci, Co], or null when this formulation does not
 * apply (the caller then uses the stock kernel).
 */
export function conv2dBackpropInputVia(
  backendName: string,
  backend: KernelBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: BackpropInputAttrs,
  useSimd = true,
): TensorInfo | null {
  if (attrs.dataFormat === 'NCHW') return null;
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  if (useSimd && backendName === 'wasm' && Ci % 4 === 0) {
    const g = { B, H, W, Ci, OH, OW, Co, KH, KW, sh, sw, pt: info.padInfo.top, pl: info.padInfo.left };
    const simd = withKernelScope(backend, backendName, (s) =>
      conv2dBackpropInputSimd(backend as BackendWasm, dy, s.transpose(filter, [0, 1, 3, 2]), g), // wT [KH, KW, Co, Ci]
    );
    if (simd != null) return simd;
  }
  const rows = phases(H, OH, KH, sh, info.padInfo.top);
  const cols = phases(W, OW, KW, sw, info.padInfo.left);
  const Mh = Math.ceil(H / sh); // rows of the interleaving grid, >= every phase's count
  const Mw = Math.ceil(W / sw);
  return withKernelScope(backend, backendName, (s) => {
    const placed: TensorInfo[] = [];
    for (const ph of rows) {
      for (const pw of cols) {
        if (ph.taps === 0 || pw.taps === 0 || ph.count === 0 || pw.count === 0) continue; // no tap reaches it: zeros
        // Sub-filter w[rho_h::sh, rho_w::sw], flipped in space, [kh, kw, Co, Ci].
        let sub = filter;
        if (sh !== 1 || sw !== 1) {
          sub = s.run('StridedSlice', { x: filter }, {
            begin: [ph.rho, pw.rho, 0, 0], end: [KH, KW, Ci, Co], strides: [sh, sw, 1, 1],
            beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
          });
        }
        const wf = s.transpose(s.reverse(sub, [0, 1]), [0, 1, 3, 2]);
        // Negative pads crop dy instead (possible only with explicit pads wider than the kernel).
        const h0 = Math.max(-ph.padBefore, 0);
        const h1 = Math.max(-ph.padAfter, 0);
        const w0 = Math.max(-pw.padBefore, 0);
        const w1 = Math.max(-pw.padAfter, 0);
        if (OH - h0 - h1 <= 0 || OW - w0 - w1 <= 0) continue;
        const d = h0 || h1 || w0 || w1 ? s.slice(dy, [0, h0, w0, 0], [B, OH - h0 - h1, OW - w0 - w1, Co]) : dy;
        const pads: Pads4 = [[0, 0], [Math.max(ph.padBefore, 0), Math.max(ph.padAfter, 0)], [Math.max(pw.padBefore, 0), Math.max(pw.padAfter, 0)], [0, 0]];
        const p = s.conv2d(d, wf, [1, 1], pads); // [B, count_h, count_w, Ci]
        if (p.shape[1] !== ph.count || p.shape[2] !== pw.count) throw new Error(`Conv2DBackpropInput: phase shape [${p.shape}] != [${[B, ph.count, pw.count, Ci]}]`);
        if (sh === 1 && sw === 1) return s.keep(p); // the only phase: [B, H, W, Ci]
        // On the grid: row i0 + sh*j of dx is (j, slot i0) of [B, Mh, sh, Mw, sw, Ci].
        const six = s.reshape(p, [B, ph.count, 1, pw.count, 1, Ci]);
        placed.push(s.pad(six, [[0, 0], [0, Mh - ph.count], [ph.i0, sh - 1 - ph.i0], [0, Mw - pw.count], [pw.i0, sw - 1 - pw.i0], [0, 0]]));
      }
    }
    if (placed.length === 0) return s.keep(s.run('Fill', {}, { shape: [B, H, W, Ci], value: 0, dtype: 'float32' }));
    const grid = placed.length === 1 ? placed[0] : s.run('AddN', placed as unknown as KernelInputs); // AddN takes an array
    const full = s.reshape(grid, [B, Mh * sh, Mw * sw, Ci]);
    return s.keep(Mh * sh === H && Mw * sw === W ? full : s.slice(full, [0, 0, 0, 0], [B, H, W, Ci]));
  });
}
