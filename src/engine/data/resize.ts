/**
 * Resizing decoded images to a model's input size, in plain TypeScript so every platform (browser canvas decode,
 * Node decoders) produces the same pixels: area averaging when shrinking (each output pixel is the mean of the
 * source area it covers, with fractional edge weights), bilinear interpolation (pixel centres aligned, as
 * PIL / torchvision with align_corners=False) when enlarging, per axis.
 */

/** Per-axis resampling weights: for each output index, source indices and weights summing to 1. */
function axisWeights(src: number, dst: number): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  const scale = src / dst;
  for (let o = 0; o < dst; o++) {
    const w: Array<[number, number]> = [];
    if (scale > 1) {
      // Area: the output pixel covers [o * scale, (o + 1) * scale) of the source.
      const a = o * scale;
      const b = a + scale;
      for (let i = Math.floor(a); i < Math.ceil(b) && i < src; i++) {
        const cover = Math.min(b, i + 1) - Math.max(a, i);
        if (cover > 1e-9) w.push([i, cover / scale]);
      }
    } else {
      // Bilinear with centres aligned; clamped at the borders.
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), src - 1);
      const i0 = Math.floor(x);
      const f = x - i0;
      w.push([i0, 1 - f]);
      if (f > 0 && i0 + 1 < src) w.push([i0 + 1, f]);
    }
    out.push(w);
  }
  return out;
}

/**
 * Resizes one image to RGB of `dstH` x `dstW`. Grayscale sources are replicated; an alpha channel is dropped.
 * @param src pixels [srcH, srcW, srcChannels] (1, 3 or 4 channels), row-major
 * @returns uint8 [dstH, dstW, 3], rounded to the nearest level
 */
export function resizeToRgb(src: ArrayLike<number>, srcH: number, srcW: number, srcChannels: number, dstH: number, dstW: number): Uint8Array {
  if (![1, 3, 4].includes(srcChannels)) throw new Error(`resize: ${srcChannels} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)`);
  if (src.length !== srcH * srcW * srcChannels) throw new Error(`resize: ${src.length} values for a ${srcH}x${srcW}x${srcChannels} image`);
  if (srcH < 1 || srcW < 1 || dstH < 1 || dstW < 1) throw new Error(`resize: empty image (${srcH}x${srcW} -> ${dstH}x${dstW})`);
  const out = new Uint8Array(dstH * dstW * 3);
  const chan = (c: number) => (srcChannels === 1 ? 0 : c);
  if (srcH === dstH && srcW === dstW) {
    for (let p = 0; p < dstH * dstW; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = src[p * srcChannels + chan(c)];
    return out;
  }
  const wy = axisWeights(srcH, dstH);
  const wx = axisWeights(srcW, dstW);
  // Separable: rows first into a float buffer [srcH, dstW, 3], then columns.
  const tmp = new Float32Array(srcH * dstW * 3);
  for (let y = 0; y < srcH; y++) {
    for (let x = 0; x < dstW; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const [i, w] of wx[x]) s += w * src[(y * srcW + i) * srcChannels + chan(c)];
        tmp[(y * dstW + x) * 3 + c] = s;
      }
    }
  }
  for (let y = 0; y < dstH; y++) {
    for (let x = 0; x < dstW; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const [i, w] of wy[y]) s += w * tmp[(i * dstW + x) * 3 + c];
        out[(y * dstW + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return out;
}
