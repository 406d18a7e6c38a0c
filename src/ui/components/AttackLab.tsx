/**
 * The attack lab: draw a trigger (or take a shipped one), choose the target and the poisoning rate, see poisoned
 * training images with their new labels, plant the backdoor into the clean model (pause / cancel, BA and ASR
 * following), then "Defend it" with the page's defense; a scoreboard keeps each trigger's figures.
 */
import { useEffect, useRef } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { clearScores, controlPlant, defendIt, downloadScores, downloadTriggerPng, plant } from '../lab/labController';
import { LAB_SOURCES, type LabSource, labStore, useLab } from '../lab/labStore';
import { downloadModel } from '../downloads';
import { useStore } from '../store';
import { TriggerEditor } from './TriggerEditor';

const pct = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(1)}%`);
const SOURCE_LABEL: Record<LabSource, string> = { drawn: 'my drawing', badnets: 'BadNets grid', blend: 'Blend', sig: 'SIG sinusoid', cl: 'CL grid' };

/** One poisoned training image (HWC uint8) on a small canvas. */
function Poisoned({ images, index, h, w, c }: { images: Uint8Array; index: number; h: number; w: number; c: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(w, h);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) img.data[4 * p + k] = images[(index * h * w + p) * c + Math.min(k, c - 1)];
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }, [images, index, h, w, c]);
  return <canvas ref={ref} width={w} height={h} className="thumb" />;
}

export function AttackLab() {
  const source = useLab((s) => s.source);
  const target = useLab((s) => s.target);
  const rate = useLab((s) => s.rate);
  const steps = useLab((s) => s.steps);
  const p = useLab((s) => s.plant);
  const scores = useLab((s) => s.scores);
  const classNames = useStore((s) => s.card?.classNames) ?? [];
  const card = useStore((s) => s.card);
  const ready = useStore((s) => s.phase === 'ready' && s.busy === null);
  const defending = useStore((s) => s.run?.status === 'running' || s.run?.status === 'paused');
  const active = p?.status === 'running' || p?.status === 'paused';
  const name = (k: number) => classNames[k] ?? `class ${k}`;
  const set = labStore.set.bind(labStore);
  const planted = card?.name === 'planted';
  return (
    <details className="card attack-lab" data-testid="attack-lab">
      <summary>
        <h2 style={{ display: 'inline' }}>Attack lab · plant your own backdoor</h2>
      </summary>
      <p className="explain">
        Draw a trigger (transparent pixels leave the image alone), pick the class it should force, and plant it: the clean built-in model is
        fine-tuned on 2,500 training images it shares none of with the defender&rsquo;s 5%, where every batch also holds copies of some of its images
        carrying the trigger and relabelled to the target. The planted model then becomes the page&rsquo;s model: &ldquo;Defend it&rdquo; runs the defense above on it.
      </p>
      <div className="lab-grid">
        <div>
          <label>
            Trigger{' '}
            <select value={source} disabled={active} onChange={(e) => set({ source: e.target.value as LabSource })} data-testid="lab-source">
              {LAB_SOURCES.map((s) => (
                <option key={s} value={s}>
                  {SOURCE_LABEL[s]}
                </option>
              ))}
            </select>
          </label>
          {source === 'drawn' && <TriggerEditor disabled={active} />}
          {source === 'drawn' && (
            <button type="button" onClick={downloadTriggerPng}>
              Save trigger as PNG
            </button>
          )}
        </div>
        <div>
          <label>
            Target class{' '}
            <select value={target} disabled={active} onChange={(e) => set({ target: Number(e.target.value) })} data-testid="lab-target">
              {(classNames.length ? classNames : Array.from({ length: 10 }, (_, i) => `class ${i}`)).map((c, i) => (
                <option key={c} value={i}>
                  {i} {c}
                </option>
              ))}
            </select>
          </label>
          <label>
            Poisoning rate{' '}
            <input type="number" min={0.01} max={1} step={0.01} value={rate} disabled={active} onChange={(e) => set({ rate: Number(e.target.value) })} data-testid="lab-rate" />
          </label>
          <label>
            Steps{' '}
            <input type="number" min={1} max={2000} value={steps} disabled={active} onChange={(e) => set({ steps: Math.max(1, Math.round(Number(e.target.value) || 1)) })} data-testid="lab-steps" />
          </label>
          <div className="buttons">
            <button type="button" disabled={!ready || active || defending} onClick={() => void plant()} data-testid="plant">
              Plant
            </button>
            <button type="button" disabled={!active} onClick={() => void controlPlant(p?.status === 'paused' ? 'resume' : 'pause')} data-testid="plant-pause">
              {p?.status === 'paused' ? 'Resume' : 'Pause'}
            </button>
            <button type="button" disabled={!active} onClick={() => void controlPlant('cancel')} data-testid="plant-cancel">
              Cancel
            </button>
            <button type="button" disabled={!planted || active || defending} onClick={() => void defendIt()} data-testid="defend-it">
              Defend it
            </button>
            <button type="button" disabled={!planted || active} onClick={() => void downloadModel()}>
              Download planted model
            </button>
          </div>
          {p && (
            <p role="status" data-testid="plant-status">
              {p.status === 'done' ? 'Planted' : p.status === 'running' ? 'Planting' : p.status}: step {p.step}
              {p.plan ? ` of ${p.plan.steps}` : ''}
              {p.loss !== null ? `, loss ${p.loss.toFixed(3)}` : ''}
              {p.points.length > 0 ? `; BA ${pct(p.points[p.points.length - 1].ba)}, ASR ${pct(p.points[p.points.length - 1].asr)}` : ''}
              {p.message && p.status !== 'done' ? ` (${p.message})` : ''}
            </p>
          )}
        </div>
      </div>
      {p?.preview && (
        <figure className="strip" aria-label="Poisoned training images">
          <figcaption>Poisoned training images: the trigger stamped, the label changed</figcaption>
          <div className="strip-grid" style={{ gridTemplateColumns: `repeat(${p.preview.original.length}, 1fr)` }}>
            {Array.from(p.preview.original, (o, i) => (
              <div key={i} className="strip-cell">
                <Poisoned images={p.preview!.images} index={i} h={p.preview!.height} w={p.preview!.width} c={p.preview!.channels} />
                <span className="bad">
                  <s>{name(o)}</s> → {name(p.preview!.relabelled[i])}
                </span>
              </div>
            ))}
          </div>
        </figure>
      )}
      {p && p.points.length > 0 && (
        <div className="chart" data-testid="plant-chart">
          <ResponsiveContainer width="100%" height={180}>
            <LineChart data={p.points} margin={{ left: 8, right: 16, top: 8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="step" />
              <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? pct(v) : String(v))} />
              <Legend />
              <Line dataKey="asr" name="ASR" stroke="#c0392b" isAnimationActive={false} />
              <Line dataKey="ba" name="BA" stroke="#2c7fb8" isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
      <h3>Scoreboard</h3>
      {scores.length === 0 ? (
        <p className="muted">Each planted trigger gets a row here (kept in this browser).</p>
      ) : (
        <table data-testid="scoreboard">
          <thead>
            <tr>
              <th>trigger</th>
              <th>target</th>
              <th>rate</th>
              <th>ASR planted</th>
              <th>BA planted</th>
              <th>defense</th>
              <th>ASR after</th>
              <th>BA after</th>
            </tr>
          </thead>
          <tbody>
            {scores.map((r) => (
              <tr key={r.id}>
                <td>{r.trigger}</td>
                <td>{name(r.target)}</td>
                <td>{r.rate}</td>
                <td>{pct(r.plantedAsr)}</td>
                <td>{pct(r.plantedBa)}</td>
                <td>{r.defense ?? '–'}</td>
                <td>{pct(r.defendedAsr)}</td>
                <td>{pct(r.defendedBa)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="buttons">
        <button type="button" disabled={scores.length === 0} onClick={downloadScores} data-testid="scores-csv">
          Export CSV
        </button>
        <button type="button" disabled={scores.length === 0} onClick={clearScores}>
          Clear scoreboard
        </button>
      </div>
    </details>
  );
}
