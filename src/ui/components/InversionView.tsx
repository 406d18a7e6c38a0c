/** Stage 1: the inverted mask, pattern and mask ⊙ pattern drawn live beside the true trigger, with charts. */
import { useRef } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { downloadChart } from '../downloads';
import { siteUrl } from '../controller';
import { useStore } from '../store';

const NO_NAMES: string[] = [];
import { maskTimesPattern, Pixels } from './Pixels';

export function InversionView() {
  const inv = useStore((s) => s.run?.inversion);
  const card = useStore((s) => s.card);
  const chart = useRef<HTMLDivElement>(null);
  if (!inv || (inv.points.length === 0 && !inv.snapshot && !inv.result)) return null;
  const shown = inv.result ?? inv.snapshot;
  const ch = shown && shown.channels === 3;
  return (
    <section className="card" aria-label="Stage 1: trigger inversion">
      <h2>Stage 1 · Trigger inversion</h2>
      <p className="explain">
        The defender does not know the trigger, so it searches for the smallest patch that flips clean images to the target class:
        a <b>mask</b> says where to paint, a <b>pattern</b> says what colour. The loss rewards hitting the target and punishes a large mask (λ·|mask|).
      </p>
      <div className="pixels-row" data-testid="mask-canvas">
        {shown && <Pixels data={shown.mask} height={shown.height} width={shown.width} channels={1} label={`mask (step ${'step' in shown ? shown.step : inv.result?.steps})`} />}
        {shown && ch && <Pixels data={shown.pattern} height={shown.height} width={shown.width} channels={3} label="pattern" />}
        {shown && ch && <Pixels data={maskTimesPattern(shown.mask, shown.pattern)} height={shown.height} width={shown.width} channels={3} label="mask ⊙ pattern" />}
        {card && card.name !== 'uploaded model' && (
          <figure className="pixels"><img src={siteUrl(`models/${card.name}/trigger.png`)} alt="the true trigger on test images" className="true-trigger" /><figcaption>the true trigger (on test images)</figcaption></figure>
        )}
      </div>
      <div ref={chart} className="chart" data-testid="inversion-chart">
        {inv.target !== null && <p className="muted" data-testid="inversion-class">Inverting class {inv.target} ({card?.classNames[inv.target] ?? inv.target}): its loss, mask size and attack rate step by step</p>}
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={inv.points} margin={{ left: 8, right: 24, top: 8 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="step" label={{ value: 'step', position: 'insideBottomRight', offset: -4 }} />
            <YAxis yAxisId="loss" />
            <YAxis yAxisId="rate" orientation="right" domain={[0, 1]} />
            <YAxis yAxisId="l1" hide />
            <Tooltip />
            <Legend />
            <Line yAxisId="loss" dataKey="loss" name="loss" stroke="#1a73e8" dot={false} isAnimationActive={false} />
            <Line yAxisId="l1" dataKey="l1" name="mask L1 (own scale)" stroke="#e37400" dot={false} isAnimationActive={false} />
            <Line yAxisId="rate" dataKey="rate" name="attack rate" stroke="#188038" dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <button type="button" onClick={() => void downloadChart(chart.current, 'inversion')}>Save chart as PNG</button>
      <DetectionView />
    </section>
  );
}

function DetectionView() {
  const det = useStore((s) => s.run?.detection);
  const classNames = useStore((s) => s.card?.classNames) ?? NO_NAMES;
  if (!det || det.perClass.length === 0) return null;
  const rows = det.perClass.map((c) => ({ name: classNames[c.cls] ?? String(c.cls), cls: c.cls, l1: c.l1, anomaly: det.report?.anomaly[c.cls] ?? 0 }));
  return (
    <div className="detection" data-testid="detection">
      <h3>Which class is the target? (Neural Cleanse detection)</h3>
      <p className="explain">Every class gets its own inverted trigger. A backdoor target needs a much smaller one: its mask L1 is an outlier below the median, with an anomaly index above 2.</p>
      <ResponsiveContainer width="100%" height={200}>
        <BarChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="name" />
          <YAxis />
          <Tooltip />
          <Bar dataKey="l1" name="mask L1" isAnimationActive={false}>
            {rows.map((r) => <Cell key={r.cls} fill={det.report?.flagged === r.cls ? '#c5221f' : '#8ab4f8'} />)}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
      {det.report && (
        <p data-testid="detection-result">
          {det.report.flagged !== null
            ? <>Flagged class <b>{det.report.flagged} ({classNames[det.report.flagged]})</b>, anomaly index {det.report.anomaly[det.report.flagged].toFixed(2)}.</>
            : <>No class exceeds the threshold ({det.report.threshold}); the smallest mask is used.</>}
          {det.report.scale === 'log' && <> (Anomaly index on log mask L1.)</>}
        </p>
      )}
      <ResponsiveContainer width="100%" height={160}>
        <BarChart data={rows}>
          <XAxis dataKey="name" />
          <YAxis />
          <Tooltip />
          <ReferenceLine y={2} stroke="#c5221f" strokeDasharray="4 4" />
          <Bar dataKey="anomaly" name="anomaly index" fill="#5f6368" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
