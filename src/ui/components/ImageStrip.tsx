/** A strip of test images, clean above and triggered below, each with the model's prediction. */
import { useEffect, useRef } from 'react';
import type { StripResult } from '../../worker/protocol';

function Thumb({ rgba, index, h, w }: { rgba: Uint8ClampedArray; index: number; h: number; w: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const size = h * w * 4;
    ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.subarray(index * size, (index + 1) * size)), w, h), 0, 0);
  }, [rgba, index, h, w]);
  return <canvas ref={ref} width={w} height={h} className="thumb" />;
}

export function ImageStrip({ strip, classNames, target, caption }: { strip: StripResult; classNames: string[]; target: number | null; caption: string }) {
  const name = (c: number) => classNames[c] ?? String(c);
  return (
    <figure className="strip" aria-label={caption}>
      <figcaption>{caption}</figcaption>
      <div className="strip-grid" style={{ gridTemplateColumns: `repeat(${strip.labels.length}, 1fr)` }}>
        {strip.labels.map((label, i) => (
          <div key={`c${i}`} className="strip-cell">
            <Thumb rgba={strip.clean} index={i} h={strip.height} w={strip.width} />
            <span className={strip.cleanPred[i] === label ? 'ok' : 'bad'}>{name(strip.cleanPred[i])}</span>
          </div>
        ))}
        {strip.labels.map((_, i) => (
          <div key={`t${i}`} className="strip-cell">
            <Thumb rgba={strip.triggered} index={i} h={strip.height} w={strip.width} />
            <span className={strip.triggeredPred[i] === target ? 'bad' : 'ok'}>{name(strip.triggeredPred[i])}</span>
          </div>
        ))}
      </div>
      <p className="legend">Top row: clean test images. Bottom row: the same images with the trigger. Red: the prediction is wrong (top) or hijacked to the target (bottom).</p>
    </figure>
  );
}
