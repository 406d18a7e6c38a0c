/** Stage 2: the live t-SNE of probe features, and BA / ASR / loss curves. */
import { useRef } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { downloadChart } from '../runController';
import { useStore } from '../store';

const NO_NAMES: string[] = [];
import { TsnePlot } from './TsnePlot';

export function PurifyView() {
  const run = useStore((s) => s.run);
  const classNames = useStore((s) => s.card?.classNames) ?? NO_NAMES;
  const charts = useRef<HTMLDivElement>(null);
  if (!run || (!run.probe && run.train.steps.length === 0)) return null;
  const before = run.before;
  const epochs = [
    ...(before ? [{ epoch: 0, ba: before.ba, asr: before.asrTrue, asrInv: before.asrInverted }] : []),
    ...run.train.epochs.map((e) => ({ epoch: e.epoch + 1, ba: e.ba, asr: e.asrTrue, asrInv: e.asrInverted, loss: e.loss })),
  ];
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
