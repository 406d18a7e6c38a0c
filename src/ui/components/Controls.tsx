/** Purify / pause / step / cancel / reset, the settings (defaulting to the paper's, mirrored in the URL), progress. */
import { DEFENSE_METHODS, type DefenseMethod } from '../../engine/defense/config';
import { controlRun, resetRun, startRun } from '../runController';
import { type Settings, settingsToQuery } from '../settings';
import { store, useStore } from '../store';

const METHOD_NAMES: Record<DefenseMethod, string> = {
  mcldef: 'MCLDef (paper)',
  'mcldef+': 'MCLDef+ (with positive-pair correction)',
  ft: 'FT: plain fine-tuning',
  nc: 'NC: Neural Cleanse unlearning',
  nad: 'NAD: attention distillation',
};

function update(patch: Partial<Settings>): void {
  const settings = { ...store.getState().settings, ...patch };
  store.set({ settings });
  history.replaceState(null, '', `${location.pathname}${settingsToQuery(settings, location.search)}${location.hash}`);
}

function NumberField({ k, label, step, min, max, help }: { k: keyof Settings; label: string; step: number; min: number; max: number; help: string }) {
  const value = useStore((s) => s.settings[k]) as number;
  const running = useStore((s) => s.run?.status === 'running' || s.run?.status === 'paused');
  return (
    <label className="field" title={help}>
      <span>{label}</span>
      <input type="number" value={value} step={step} min={min} max={max} disabled={running} aria-describedby={`help-${k}`}
        onChange={(e) => { const v = Number(e.target.value); if (Number.isFinite(v) && v >= min && v <= max) update({ [k]: v }); }} />
      <small id={`help-${k}`}>{help}</small>
    </label>
  );
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '…';
  return seconds >= 60 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

export function Progress() {
  const run = useStore((s) => s.run);
  if (!run) return null;
  const elapsed = (Date.now() - run.stageStartedAt) / 1000;
  const eta = run.stageFraction > 0.01 ? (elapsed / run.stageFraction) * (1 - run.stageFraction) : NaN;
  const active = run.status === 'running' || run.status === 'paused';
  // Stages with an epoch budget (from the engine's stage event) show their share done; evaluation has none.
  const measured = active && run.stageEpochs > 0;
  return (
    <div className="progress" role="status" aria-live="polite">
      <div><strong>{run.method.toUpperCase()}</strong> · {run.stageLabel} · {run.status}{measured && ` · ${Math.round(run.stageFraction * 100)}% of this stage, about ${formatEta(eta)} left`}</div>
      <progress max={1} value={active ? run.stageFraction : 1} aria-label="progress of the current stage" />
      {run.notices.map((n, i) => <div key={i} className="notice">{n}</div>)}
      {run.status === 'cancelled' && <div className="notice">Cancelled. The original model is unchanged; press Purify to start again.</div>}
    </div>
  );
}

export function Controls() {
  const s = useStore((st) => st.settings);
  const card = useStore((st) => st.card);
  const status = useStore((st) => st.run?.status ?? 'idle');
  const active = status === 'running' || status === 'paused';
  const hasClean = useStore((st) => !!st.clean);
  const ready = !!card && hasClean;
  return (
    <section className="card controls" aria-label="Defense controls">
      <div className="buttons">
        <button type="button" className="primary" data-testid="purify" disabled={!ready || active} onClick={() => void startRun()}>Purify</button>
        <button type="button" data-testid="pause" disabled={!active} onClick={() => void controlRun(status === 'paused' ? 'resume' : 'pause')}>{status === 'paused' ? 'Resume' : 'Pause'}</button>
        <button type="button" data-testid="step" disabled={!active} onClick={() => void controlRun('step')} title="Run one optimizer step, then pause">Step</button>
        <button type="button" data-testid="cancel" disabled={!active} onClick={() => void controlRun('cancel')}>Cancel</button>
        <button type="button" data-testid="reset" disabled={!card} onClick={() => void resetRun()}>Reset</button>
      </div>
      <Progress />
      <details open>
        <summary>Settings (the paper's by default; saved in the page address, so you can share them)</summary>
        <div className="fields">
          <label className="field">
            <span>Method</span>
            <select value={s.method} disabled={active} onChange={(e) => update({ method: e.target.value as DefenseMethod })}>
              {DEFENSE_METHODS.map((m) => <option key={m} value={m}>{METHOD_NAMES[m]}</option>)}
            </select>
            <small>MCLDef inverts the trigger, then pulls triggered features back to their clean ones.</small>
          </label>
          <label className="field">
            <span>Target class</span>
            <select value={s.targetMode} disabled={active} onChange={(e) => update({ targetMode: e.target.value as Settings['targetMode'] })}>
              <option value="known">known: {card?.target !== null && card ? `${card.target} (${card.classNames[card.target]})` : 'not stated, so detected'}</option>
              <option value="detect">detect it (Neural Cleanse, inverts every class)</option>
            </select>
            <small>The paper assumes the defender knows it; detection finds it from the data.</small>
          </label>
          {(s.targetMode === 'detect' || card?.target === null) && (
            <label className="field">
              <span>Detection rule</span>
              <select value={s.detectScale} disabled={active} onChange={(e) => update({ detectScale: e.target.value as Settings['detectScale'] })} data-testid="detect-scale">
                <option value="linear">Neural Cleanse: outlier in mask L1</option>
                <option value="log">log scale: outlier in how many times smaller</option>
              </select>
              <small>On the shipped Blend model only the log scale flags the target; both leave the clean model clear (docs/bench/detect.md).</small>
            </label>
          )}
          <NumberField k="lambda" label="λ (mask size penalty)" step={0.001} min={0} max={10} help="Weight of the mask's L1 norm in trigger inversion (0.01)." />
          <NumberField k="invEpochs" label="Inversion epochs" step={1} min={1} max={1000} help="Stage 1 budget; stops early after 30 epochs without a smaller mask (100)." />
          <NumberField k="tau" label="τ (temperature)" step={0.05} min={0.001} max={100} help="Temperature of the contrastive loss (0.5)." />
          <NumberField k="lr" label="Learning rate" step={0.01} min={0} max={10} help="Epoch 0; then /10 until epoch 10, /100 after (0.1)." />
          <NumberField k="epochs" label="Purification epochs" step={1} min={0} max={500} help="Stage 2 epochs (20)." />
          <NumberField k="cleanPercent" label="Clean data (% of training set)" step={0.5} min={0.01} max={5} help="The paper uses 5% (2,500 images)." />
          <NumberField k="cleanLimit" label="Clean image cap" step={10} min={0} max={1000000} help="0 = no cap; small caps make quick classroom demos." />
          <NumberField k="evalSize" label="Evaluation images" step={50} min={0} max={10000} help="Test images for BA/ASR each epoch (1,000)." />
          <NumberField k="probe" label="t-SNE images per class" step={1} min={0} max={200} help="Clean probes per class; each gets a triggered copy." />
          <NumberField k="seed" label="Seed" step={1} min={0} max={2147483646} help="Drives every random choice; same seed, same run." />
          <NumberField k="refresh" label="Refreshes per second" step={1} min={1} max={60} help="How often the charts redraw while running." />
          <label className="field checkbox">
            <input type="checkbox" checked={s.compareFt} disabled={active} onChange={(e) => update({ compareFt: e.target.checked })} />
            <span>Also run FT first, to compare</span>
          </label>
        </div>
      </details>
    </section>
  );
}
