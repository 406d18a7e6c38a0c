/**
 * The attack lab's trigger editor: a zoomed 32x32 canvas over a checkerboard (transparent pixels), pencil and eraser
 * (click or drag), the colour and opacity they paint with, and stamps (grid, square, cross, noise) of a chosen size
 * placed where you click.
 */
import { useEffect, useRef } from 'react';
import { labStore, type LabTool, useLab } from '../lab/labStore';
import { blankTrigger, paint, parseColour, stamp, STAMPS, TRIGGER_SIZE } from '../lab/trigger';

/** Screen pixels per trigger pixel. */
const ZOOM = 10;
const TOOLS: readonly LabTool[] = ['pencil', 'eraser', ...STAMPS];

function drawAt(row: number, col: number, seed: number): void {
  const s = labStore.getState();
  const rgb = parseColour(s.colour);
  let t = s.trigger;
  if (s.tool === 'pencil') t = paint(t, row, col, rgb, s.opacity);
  else if (s.tool === 'eraser') t = paint(t, row, col, rgb, 0);
  else t = stamp(t, s.tool, row, col, s.stampSize, rgb, s.opacity, seed);
  if (t !== s.trigger) labStore.set({ trigger: t, source: 'drawn' });
}

export function TriggerEditor({ disabled }: { disabled: boolean }) {
  const trigger = useLab((s) => s.trigger);
  const tool = useLab((s) => s.tool);
  const colour = useLab((s) => s.colour);
  const opacity = useLab((s) => s.opacity);
  const stampSize = useLab((s) => s.stampSize);
  const ref = useRef<HTMLCanvasElement>(null);
  const drawing = useRef(false);

  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, TRIGGER_SIZE * ZOOM, TRIGGER_SIZE * ZOOM);
    for (let r = 0; r < TRIGGER_SIZE; r++) {
      for (let c = 0; c < TRIGGER_SIZE; c++) {
        // Checkerboard under transparent pixels, the colour at its alpha over it.
        ctx.fillStyle = (r + c) % 2 ? '#ddd' : '#f6f6f6';
        ctx.fillRect(c * ZOOM, r * ZOOM, ZOOM, ZOOM);
        const i = 4 * (r * TRIGGER_SIZE + c);
        if (trigger[i + 3] > 0) {
          ctx.fillStyle = `rgba(${trigger[i]},${trigger[i + 1]},${trigger[i + 2]},${trigger[i + 3] / 255})`;
          ctx.fillRect(c * ZOOM, r * ZOOM, ZOOM, ZOOM);
        }
      }
    }
  }, [trigger]);

  const cell = (e: React.PointerEvent<HTMLCanvasElement>): [number, number] => {
    const box = e.currentTarget.getBoundingClientRect();
    return [Math.floor(((e.clientY - box.top) / box.height) * TRIGGER_SIZE), Math.floor(((e.clientX - box.left) / box.width) * TRIGGER_SIZE)];
  };
  const set = labStore.set.bind(labStore);
  return (
    <div className="trigger-editor">
      <canvas
        ref={ref}
        data-testid="trigger-canvas"
        width={TRIGGER_SIZE * ZOOM}
        height={TRIGGER_SIZE * ZOOM}
        style={{ cursor: disabled ? 'not-allowed' : 'crosshair', touchAction: 'none', border: '1px solid #999' }}
        aria-label="Trigger: 32 x 32 pixels; transparent pixels leave the image as it is"
        onPointerDown={(e) => {
          if (disabled) return;
          drawing.current = tool === 'pencil' || tool === 'eraser';
          const [r, c] = cell(e);
          drawAt(r, c, Date.now() & 0xffff);
        }}
        onPointerMove={(e) => {
          if (!drawing.current || disabled) return;
          const [r, c] = cell(e);
          drawAt(r, c, 1);
        }}
        onPointerUp={() => (drawing.current = false)}
        onPointerLeave={() => (drawing.current = false)}
      />
      <div className="trigger-tools">
        <fieldset disabled={disabled}>
          <legend>Tool</legend>
          {TOOLS.map((t) => (
            <label key={t}>
              <input type="radio" name="lab-tool" value={t} checked={tool === t} onChange={() => set({ tool: t })} data-testid={`tool-${t}`} /> {t}
            </label>
          ))}
        </fieldset>
        <label>
          Colour <input type="color" value={colour} disabled={disabled} onChange={(e) => set({ colour: e.target.value })} />
        </label>
        <label>
          Opacity <input type="range" min={1} max={255} value={opacity} disabled={disabled} onChange={(e) => set({ opacity: Number(e.target.value) })} /> {Math.round((opacity / 255) * 100)}%
        </label>
        <label>
          Stamp size <input type="number" min={1} max={16} value={stampSize} disabled={disabled} onChange={(e) => set({ stampSize: Math.max(1, Math.min(16, Number(e.target.value) || 1)) })} /> px
        </label>
        <button type="button" disabled={disabled} onClick={() => set({ trigger: blankTrigger(), source: 'drawn' })} data-testid="trigger-clear">
          Clear
        </button>
      </div>
    </div>
  );
}
