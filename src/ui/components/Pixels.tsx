/** Draws a small image (mask [H*W] in [0,1], or RGB [H*W*3] in [0,1]) on an enlarged canvas with crisp pixels. */
import { useEffect, useRef } from 'react';

export function Pixels({ data, height, width, channels, label, scale = 6 }: { data: Float32Array; height: number; width: number; channels: 1 | 3; label: string; scale?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(width, height);
    for (let i = 0; i < height * width; i++) {
      for (let c = 0; c < 3; c++) img.data[i * 4 + c] = Math.round(255 * (channels === 1 ? data[i] : data[i * 3 + c]));
      img.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }, [data, height, width, channels]);
  return (
    <figure className="pixels">
      <canvas ref={ref} width={width} height={height} style={{ width: width * scale, height: height * scale }} role="img" aria-label={label} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}

/** mask ⊙ pattern: what the inverted trigger paints onto an image. */
export function maskTimesPattern(mask: Float32Array, pattern: Float32Array): Float32Array {
  const out = new Float32Array(pattern.length);
  for (let i = 0; i < mask.length; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = mask[i] * pattern[i * 3 + c];
  return out;
}
