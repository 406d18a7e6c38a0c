/** The live t-SNE: clean probe images coloured by class, triggered copies in black; points glide between epochs. */
import { useEffect, useRef } from 'react';

export const CLASS_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function TsnePlot({ embedding, labels, triggered, classNames, size = 420 }: { embedding: Float64Array; labels: Int32Array; triggered: Uint8Array; classNames: string[]; size?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const shown = useRef<Float64Array | null>(null);
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const from = shown.current && shown.current.length === embedding.length ? shown.current : embedding;
    const n = labels.length;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, embedding[2 * i]); maxX = Math.max(maxX, embedding[2 * i]);
      minY = Math.min(minY, embedding[2 * i + 1]); maxY = Math.max(maxY, embedding[2 * i + 1]);
    }
    const pad = 12;
    const scale = (size - 2 * pad) / Math.max(maxX - minX, maxY - minY, 1e-9);
    const draw = (pts: Float64Array) => {
      ctx.clearRect(0, 0, size, size);
      // Triggered copies first as black dots, clean images on top as coloured discs with a white rim: a black
      // cluster on its own is the backdoor; black dots hidden among the colours mean it has dissolved.
      for (const pass of [1, 0]) {
        for (let i = 0; i < n; i++) {
          if (triggered[i] !== pass) continue;
          const x = pad + (pts[2 * i] - minX) * scale;
          const y = pad + (pts[2 * i + 1] - minY) * scale;
          ctx.beginPath();
          ctx.arc(x, y, pass ? 3 : 4.2, 0, 2 * Math.PI);
          ctx.fillStyle = pass ? 'rgba(0, 0, 0, 0.85)' : CLASS_COLORS[labels[i] % CLASS_COLORS.length];
          ctx.fill();
          if (!pass) {
            ctx.lineWidth = 1;
            ctx.strokeStyle = '#fff';
            ctx.stroke();
          }
        }
      }
    };
    // Animate from the previous layout to the new one over ~600 ms.
    const start = performance.now();
    let raf = 0;
    const tick = (t: number) => {
      const a = Math.min(1, (t - start) / 600);
      const pts = new Float64Array(embedding.length);
      for (let i = 0; i < pts.length; i++) pts[i] = from[i] + (embedding[i] - from[i]) * a;
      draw(pts);
      if (a < 1) raf = requestAnimationFrame(tick);
      else shown.current = embedding;
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [embedding, labels, triggered, size]);
  return (
    <figure className="tsne">
      <canvas ref={ref} width={size} height={size} data-testid="tsne" role="img" aria-label="t-SNE of penultimate features: clean images by class, triggered images in black" />
      <figcaption className="tsne-legend">
        {classNames.map((c, i) => <span key={c}><i style={{ background: CLASS_COLORS[i % CLASS_COLORS.length] }} />{c}</span>)}
        <span><i style={{ background: '#000' }} />triggered</span>
      </figcaption>
    </figure>
  );
}
