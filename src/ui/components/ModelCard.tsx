/** The loaded model: architecture, attack and trigger, BA and ASR before defense. */
import type { QuickEval } from '../../worker/protocol';
import { useStore } from '../store';
import { siteUrl } from '../controller';
import { pct } from '../format';


/** The live ASR, or why there is none: without a target (stated or detected) or a known attack nothing is counted. */
function asrText(ev: QuickEval): string {
  if (ev.asr !== null) return `ASR ${pct(ev.asr)}`;
  return ev.target === null ? 'ASR: target unknown (run detection to find it)' : 'ASR: attack unknown';
}

export function ModelCard() {
  const card = useStore((s) => s.card);
  const ev = useStore((s) => s.evalBefore);
  const refining = useStore((s) => s.evalRefining);
  if (!card) return <section className="card" aria-busy="true"><h2>Model</h2><p>No model loaded yet.</p></section>;
  const target = card.target !== null ? `${card.target} (${card.classNames[card.target] ?? '?'})` : 'unknown';
  return (
    <section className="card" data-testid="model-card">
      <h2>{card.title}</h2>
      <dl className="facts">
        <dt>Architecture</dt><dd data-testid="model-arch">{card.arch}, {card.params.toLocaleString()} parameters, input {card.inputShape.join('×')}</dd>
        <dt>Attack</dt><dd>{card.attack ? `${card.attack.title ?? card.attack.name}${card.attack.trigger ? ` — ${card.attack.trigger}` : ''}` : 'not stated'}</dd>
        <dt>Target class</dt><dd>{target}</dd>
        {card.claimed && (<><dt>Full test set</dt><dd>BA {pct(card.claimed.ba)} · ASR {pct(card.claimed.asr)} ({card.claimed.n.toLocaleString()} images)</dd></>)}
        <dt>Live check</dt><dd data-testid="live-eval">{ev ? `BA ${pct(ev.ba)} · ${asrText(ev)} on ${ev.n} demo test images${refining ? ' (a first look; measuring the whole set…)' : ''}` : 'measuring…'}</dd>
      </dl>
      {card.attack?.description && <p className="explain">{card.attack.description}</p>}
      {card.source === 'zoo' && <img className="trigger-preview" src={siteUrl(`models/${card.name}/trigger.png`)} alt="Test images without and with the trigger" />}
    </section>
  );
}
