/** Stage 2: the live t-SNE of probe features with its merge figure, and BA / ASR / merge / loss curves. */
import { useRef } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { downloadChart } from '../downloads';
import type { EvalPoint } from '../../engine/defense';
import { useStore } from '../store';
import { TsnePlot } from './TsnePlot';
import { pct } from '../format';

const NO_NAMES: string[] = [];

export function PurifyView() {
  const run = useStore((s) => s.run);
  const classNames = useStore((s) => s.card?.classNames) ?? NO_NAMES;
  const charts = useRef<HTMLDivElement>(null);
  if (!run || (!run.probe && run.train.steps.length === 0)) return null;
  const before = run.before;
  // The merge figure rides on the evaluation points (engine: src/engine/defense/merge.ts); epochs without one leave a gap.
  const merge = (p: EvalPoint) => ({ isolated: p.merge?.isolated, own: p.merge?.own, toTarget: p.merge?.target, cleanOwn: p.merge?.clean });
  const epochs = [
    ...(before ? [{ epoch: 0, ba: before.ba, asr: before.asrTrue, asrInv: before.asrInverted, ...merge(before) }] : []),
    ...run.train.epochs.map((e) => ({ epoch: e.epoch + 1, ba: e.ba, asr: e.asrTrue, asrInv: e.asrInverted, loss: e.loss, ...merge(e) })),
  ];
  const hasMerge = epochs.some((e) => e.own !== undefined);
  const m = run.probe?.merge ?? null;
  return (
    <section className="card" aria-label="Stage 2: purification">
      <h2>Stage 2 · {run.method === 'ft' ? 'Fine-tuning (FT)' : run.method === 'nc' ? 'Unlearning (NC)' : run.method === 'nad' ? 'Attention distillation (NAD)' : 'Model-contrastive purification'}</h2>
      {(run.method === 'mcldef' || run.method === 'mcldef+') && (
        <p className="explain">
          For each clean image x, the trigger is stamped on: x̂. The model being purified maps x̂ to a feature z. The <b>positive</b> is where the
          frozen backdoored model puts the clean x; the <b>negative</b> is where it puts x̂. The loss pulls z to the positive and pushes it from the
          negative (temperature τ), so triggered images stop landing in the target's cluster.
        </p>
      )}
      <div className="stage2">
        <div>
          {run.probe?.embedding ? (
            <TsnePlot embedding={run.probe.embedding} labels={run.probe.labels} triggered={run.probe.triggered} classNames={classNames} />
          ) : (
            <p className="muted">{run.probe ? 'Embedding the features…' : 'The feature map appears once the model has been probed.'}</p>
          )}
          {run.probe && <p className="muted">t-SNE of the 64-d features {run.probe.epoch < 0 ? 'before purification' : `after epoch ${run.probe.epoch + 1}`}. Black: triggered images.</p>}
          {m && (
            <p data-testid="merge-figure" style={{ maxWidth: '60ch' }}>
              <b>Merge:</b> {pct(m.isolated)} of the triggered images still sit in a cluster of their own; among clean images only, {pct(m.own)} have mostly
              their own class around them and {pct(m.target)} mostly the target ({classNames[m.targetClass] ?? `class ${m.targetClass}`}); clean images themselves: {pct(m.clean)}.{' '}
              <span className="muted">
                Measured on the 64-d features, not on the picture: each triggered image&rsquo;s {m.k} nearest images by cosine similarity vote (&ldquo;mostly&rdquo; is more than half), and purification should take the first figure down and the own-class share up toward the clean images&rsquo; own.
              </span>
            </p>
          )}
        </div>
        <div ref={charts} className="chart" data-testid="purify-chart">
          <ResponsiveContainer width="100%" height={200}>
            <LineChart data={epochs} margin={{ left: 8, right: 16, top: 8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="epoch" label={{ value: 'epoch', position: 'insideBottomRight', offset: -4 }} />
              <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : String(v))} />
              <Legend />
              <Line dataKey="ba" name="BA (clean accuracy)" stroke="#188038" isAnimationActive={false} />
              <Line dataKey="asr" name="ASR (true trigger)" stroke="#c5221f" isAnimationActive={false} />
              <Line dataKey="asrInv" name="ASR (inverted trigger)" stroke="#e37400" strokeDasharray="4 3" isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
          {hasMerge && (
            <ResponsiveContainer width="100%" height={170} id="merge-chart">
              <LineChart data={epochs} margin={{ left: 8, right: 16, top: 8 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="epoch" />
                <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} />
                <Tooltip formatter={(v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : String(v))} />
                <Legend />
                <Line dataKey="isolated" name="triggered: own cluster" stroke="#000" isAnimationActive={false} connectNulls />
                <Line dataKey="own" name="triggered: own class" stroke="#188038" isAnimationActive={false} connectNulls />
                <Line dataKey="toTarget" name="triggered: target class" stroke="#9334e6" isAnimationActive={false} connectNulls />
                <Line dataKey="cleanOwn" name="clean: own class" stroke="#80868b" strokeDasharray="4 3" isAnimationActive={false} connectNulls />
              </LineChart>
            </ResponsiveContainer>
          )}
          <ResponsiveContainer width="100%" height={160}>
            <LineChart data={run.train.steps} margin={{ left: 8, right: 16 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="i" label={{ value: 'step', position: 'insideBottomRight', offset: -4 }} />
              <YAxis />
              <Tooltip />
              <Line dataKey="loss" name="training loss" stroke="#1a73e8" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
          <button type="button" onClick={() => void downloadChart(charts.current, 'purification')}>Save BA/ASR chart as PNG</button>
        </div>
      </div>
    </section>
  );
}
