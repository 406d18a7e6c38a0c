/**
 * The story of a run in four large tiles across the top of the page, readable from the back of a classroom: the
 * backdoor at work (live ASR), the mask taking shape (stage 1's current mask), the clusters merging (the merge
 * figure) and the result (ASR and BA after). Each tile reads what the store already holds; nothing is recomputed.
 */
import { useStore } from '../store';
import { Pixels } from './Pixels';
import { pct, resultAsr } from '../format';


function Tile({ n, title, children, testId }: { n: number; title: string; children: React.ReactNode; testId: string }) {
  return (
    <section className="story-tile" aria-label={title} data-testid={testId}>
      <h2><span className="story-n">{n}</span> {title}</h2>
      {children}
    </section>
  );
}

export function StoryBar() {
  const card = useStore((s) => s.card);
  const live = useStore((s) => s.evalBefore);
  const run = useStore((s) => s.run);
  if (!card) return null;
  const target = card.target !== null ? card.classNames[card.target] ?? String(card.target) : null;
  const mask = run?.inversion.result ?? run?.inversion.snapshot ?? null;
  const merge = run?.probe?.merge ?? null;
  const after = run?.status === 'done' ? run.summary?.after ?? null : null;
  const before = run?.summary?.before ?? run?.before ?? null;
  const asr = after ? resultAsr(after) : null;
  // Without the true attack (an upload with no attack named) the tile shows the inverted trigger's rate once a run
  // has measured it on the backdoored model.
  const trueRate = live?.asr ?? null;
  const invertedRate = trueRate === null ? (before?.asrInverted ?? null) : null;
  const invTarget = mask ? card.classNames[mask.target] ?? String(mask.target) : null;
  return (
    <div className="story" data-testid="story">
      <Tile n={1} title="The backdoor at work" testId="story-backdoor">
        <p className="story-big">{trueRate !== null ? pct(trueRate) : invertedRate !== null ? pct(invertedRate) : '…'}</p>
        <p className="story-caption">
          {trueRate !== null
            ? `of triggered images are sent to “${target}”`
            : invertedRate !== null
              ? `of images carrying the inverted trigger are sent to “${invTarget ?? target}” (the real trigger is unknown)`
              : target
                ? 'the attack is unknown: a run measures the inverted trigger'
                : 'target unknown: detection finds it'}
        </p>
      </Tile>
      <Tile n={2} title="The mask taking shape" testId="story-mask">
        {mask ? (
          <Pixels data={mask.mask} height={mask.height} width={mask.width} channels={1} label="the inverted mask" scale={Math.max(2, Math.floor(96 / mask.height))} />
        ) : (
          <p className="story-caption">Press Purify: stage 1 searches for the smallest patch that flips images to the target.</p>
        )}
        {mask && <p className="story-caption">mask size (L1) {mask.maskL1.toFixed(1)}</p>}
      </Tile>
      <Tile n={3} title="The clusters merging" testId="story-merge">
        <p className="story-big">{merge ? pct(merge.isolated) : '…'}</p>
        <p className="story-caption">of triggered images still sit in a cluster of their own{merge && run?.probe ? (run.probe.epoch < 0 ? ' (before purification)' : ` (after epoch ${run.probe.epoch + 1})`) : ''}</p>
      </Tile>
      <Tile n={4} title="The result" testId="story-result">
        <p className="story-big">{asr ? `${asr.label} ${pct(asr.value)}` : '…'}</p>
        <p className="story-caption">{after ? `BA ${pct(before?.ba)} → ${pct(after.ba)} on ${after.nClean.toLocaleString('en')} test images` : run ? 'purifying…' : 'after purification'}</p>
      </Tile>
    </div>
  );
}
