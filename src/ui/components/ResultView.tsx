/** The outcome: before / after table (and FT beside it), the image strip after purification, downloads. */
import type { DefenseSummary, EvalPoint } from '../../engine/defense';
import { downloadModel, downloadReport, downloadWeights } from '../downloads';
import { useStore } from '../store';
import { ImageStrip } from './ImageStrip';
import { pct } from '../format';


function Row({ label, p }: { label: string; p: EvalPoint | null }) {
  return <tr><th scope="row">{label}</th><td>{pct(p?.ba)}</td><td>{pct(p?.asrTrue)}</td><td>{pct(p?.asrInverted)}</td></tr>;
}

function seconds(summary: DefenseSummary): string {
  return summary.timings.map((t) => `${t.stage} ${t.seconds.toFixed(0)} s${t.imagesPerSecond ? ` (${t.imagesPerSecond.toFixed(0)} img/s)` : ''}`).join(', ');
}

/** Where the figures were measured: one set of images, drawn once per run, for every row and column. */
function measuredOn(sum: DefenseSummary, evalImages: number | null, label: string | null): string {
  const n = sum.after?.nClean ?? sum.before?.nClean ?? 0;
  const of = evalImages !== null && n < evalImages ? ` of the ${evalImages.toLocaleString('en')}` : '';
  return `On the same ${n.toLocaleString('en')}${of} evaluation images${label ? ` (${label})` : ''} before and after, drawn with seed ${sum.config.seed}`;
}

export function ResultView() {
  const run = useStore((s) => s.run);
  const ft = useStore((s) => s.ftSummary);
  const card = useStore((s) => s.card);
  const after = useStore((s) => s.stripAfter);
  const evalData = useStore((s) => s.evalData);
  if (!run || run.status !== 'done' || !run.summary || !card) return null;
  const sum = run.summary;
  const perBefore = sum.before?.perClass;
  const perAfter = sum.after?.perClass;
  return (
    <section className="card" aria-label="Result" data-testid="result">
      <h2>Result</h2>
      {sum.warnings.length > 0 && (
        <ul className="warnings" role="alert" data-testid="warnings">
          {sum.warnings.map((w) => <li key={w.kind} data-kind={w.kind}>{w.message}</li>)}
        </ul>
      )}
      <p className="explain"><b>BA</b> (benign accuracy): how often clean test images are classified correctly. <b>ASR</b> (attack success rate): how often a triggered image of another class is sent to the target. A good defense keeps BA and drives ASR towards 0.</p>
      <table className="results">
        <thead><tr><th /><th>BA</th><th>ASR (true trigger)</th><th>ASR (inverted trigger)</th></tr></thead>
        <tbody>
          <Row label="Backdoored model" p={sum.before} />
          {ft && <Row label="after FT" p={ft.after} />}
          <Row label={`after ${run.method.toUpperCase()}`} p={sum.after} />
        </tbody>
      </table>
      <p className="muted" data-testid="measured-on">{measuredOn(sum, evalData?.n ?? null, evalData?.label ?? null)}; target class {sum.target ?? 'unknown'}; {seconds(sum)}.</p>
      {perBefore && perAfter && (
        <table className="results per-class" data-testid="per-class">
          <caption>Accuracy per class, on the same images</caption>
          <thead><tr><th /><th>before</th><th>after</th></tr></thead>
          <tbody>
            {card.classNames.map((c, i) => (
              <tr key={c}><th scope="row">{c}{i === sum.target ? ' (target)' : ''}</th><td>{pct(perBefore[i])}</td><td>{pct(perAfter[i])}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {after && <ImageStrip strip={after} classNames={card.classNames} target={card.target} caption="After purification: the trigger no longer hijacks the prediction" />}
      <div className="buttons">
        <button type="button" data-testid="download-model" onClick={() => void downloadModel()}>Download purified model (TF.js)</button>
        <button type="button" data-testid="download-pth" onClick={() => void downloadWeights('pth')} title="A state_dict that torch.load reads (zip format); load it with model.load_state_dict">PyTorch .pth</button>
        <button type="button" data-testid="download-safetensors" onClick={() => void downloadWeights('safetensors')} title="The same state_dict as safetensors">.safetensors</button>
        <button type="button" onClick={downloadReport}>Download report (JSON)</button>
      </div>
    </section>
  );
}
