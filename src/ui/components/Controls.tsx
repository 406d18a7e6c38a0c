/**
 * Purify / pause / step / cancel / reset, the preset ("Class demo" by default, or "Paper") with the settings folded
 * under it (mirrored in the URL), how long the run will take here, and its progress.
 */
import { DEFENSE_METHODS, type DefenseMethod } from '../../engine/defense/config';
import { PRESET_NAMES, PRESETS, type PresetName } from '../../engine/defense/presets';
import { chosenRates, estimateRun, runEta } from '../estimate';
import { formatSeconds } from '../format';
import { controlRun, resetRun, startRun } from '../runController';
import { applyPreset, presetLabel, type Settings, settingsToQuery } from '../settings';
import { store, useStore } from '../store';

const METHOD_NAMES: Record<DefenseMethod, string> = {
  mcldef: 'MCLDef (paper)',
  'mcldef+': 'MCLDef+ (with positive-pair correction)',
  ft: 'FT: plain fine-tuning',
  nc: 'NC: Neural Cleanse unlearning',
  nad: 'NAD: attention distillation',
};

function save(settings: Settings): void {
  store.set({ settings });
  history.replaceState(null, '', `${location.pathname}${settingsToQuery(settings, location.search)}${location.hash}`);
}

function update(patch: Partial<Settings>): void {
  save({ ...store.getState().settings, ...patch });
}

/** The preset choice, "custom" once a field differs from the chosen preset's value. */
function PresetPicker({ disabled }: { disabled: boolean }) {
  const s = useStore((st) => st.settings);
  const label = presetLabel(s);
  return (
    <fieldset className="presets" disabled={disabled}>
      <legend>Preset</legend>
      {PRESET_NAMES.map((name: PresetName) => (
        <label key={name} className={`preset${s.preset === name ? ' chosen' : ''}`} title={PRESETS[name].summary}>
          <input type="radio" name="preset" value={name} checked={s.preset === name && label !== 'custom'} data-testid={`preset-${name}`}
            onChange={() => save(applyPreset(s, name))} />
          <span>{PRESETS[name].title}</span>
        </label>
      ))}
      <span className="preset-state" data-testid="preset-state">
        {label === 'custom' ? `custom (${PRESETS[s.preset].title} with edits; pick a preset to restore it)` : PRESETS[label].summary}
      </span>
    </fieldset>
  );
}

/** Typical stage-1 epochs of the class demo before its convergence test ends it (docs/presets.md). */
const TYPICAL_INV_EPOCHS = PRESETS.quick.typicalInversionEpochs ?? Infinity;

/** "This run: about 1 min 10 s here", from the backend calibration and the run's planned work. */
export function RunEstimateLine() {
  const s = useStore((st) => st.settings);
  const backend = useStore((st) => st.backend);
  const card = useStore((st) => st.card);
  const clean = useStore((st) => st.clean);
  const evalData = useStore((st) => st.evalData);
  const rates = chosenRates(backend);
  if (!card || !clean) return null;
  if (!rates) return <p className="estimate muted">Timing this device…</p>;
  const inputs = { cleanCounts: clean.counts, evalAvailable: evalData?.n ?? 0, numClasses: card.numClasses, knownTarget: s.targetMode === 'known' ? card.target : null };
  const e = estimateRun(s, rates, inputs, TYPICAL_INV_EPOCHS);
  const range = e.atMost > e.typical * 1.1 ? ` (at most ${formatSeconds(e.atMost)})` : '';
  return (
    <p className="estimate" data-testid="estimate" data-seconds={e.typical.toFixed(1)}>
      This run: about <strong>{formatSeconds(e.typical)}</strong>{range} on {backend!.backend.toUpperCase()} here.
    </p>
  );
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

export function Progress() {
  const run = useStore((s) => s.run);
  const backend = useStore((s) => s.backend);
  if (!run) return null;
  const active = run.status === 'running' || run.status === 'paused';
  // Stages with an epoch budget (from the engine's stage event) show their share done; evaluation has none.
  const measured = active && run.stageEpochs > 0;
  // The whole run's time left: the engine's plan at the calibrated rates, rescaled by the pace so far; without a
  // calibration, the current stage's own pace.
  const whole = active ? runEta(run, chosenRates(backend), Date.now(), TYPICAL_INV_EPOCHS) : null;
  const elapsed = (Date.now() - run.stageStartedAt) / 1000;
  const eta = whole ?? (run.stageFraction > 0.01 ? (elapsed / run.stageFraction) * (1 - run.stageFraction) : NaN);
  return (
    <div className="progress" role="status" aria-live="polite">
      <div>
        <strong>{run.method.toUpperCase()}</strong> · {run.stageLabel} · {run.status}{measured && ` · ${Math.round(run.stageFraction * 100)}% of this stage`}
        {active && (
          <span className="eta" data-testid="eta" data-seconds={Number.isFinite(eta) ? eta.toFixed(1) : ''}> · about {formatSeconds(eta)} left{whole === null ? ' in this stage' : ''}</span>
        )}
      </div>
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
      {!active && <RunEstimateLine />}
      <Progress />
      <PresetPicker disabled={active} />
      <details>
        <summary>Settings (saved in the page address, so you can share them)</summary>
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
          <NumberField k="invEpochs" label="Inversion epochs" step={1} min={1} max={1000} help="Stage 1 budget (paper 100, stopping after 30 epochs without a smaller mask; class demo 8, stopping once the mask works and has stopped shrinking)." />
          <NumberField k="tau" label="τ (temperature)" step={0.05} min={0.001} max={100} help="Temperature of the contrastive loss (0.5)." />
          <NumberField k="lr" label="Learning rate" step={0.01} min={0} max={10} help="Epoch 0 (0.1); the paper then uses /10 until epoch 10 and /100 after, the class demo /10 after epoch 0." />
          <NumberField k="epochs" label="Purification epochs" step={1} min={0} max={500} help="Stage 2 epochs (paper 20, class demo 2)." />
          <NumberField k="cleanPercent" label="Clean data (% of training set)" step={0.5} min={0.01} max={5} help="The paper uses 5% (2,500 images)." />
          <NumberField k="cleanLimit" label="Clean image cap" step={10} min={0} max={1000000} help="0 = no cap (paper: all 2,500); the class demo uses 1,000." />
          <NumberField k="evalSize" label="Evaluation images" step={50} min={0} max={10000} help="Test images for BA/ASR after each epoch (paper 1,000, class demo 200); before and after the run, the whole evaluation set." />
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
