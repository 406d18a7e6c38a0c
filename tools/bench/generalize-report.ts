/**
 * docs/bench/generalize.md from the kept runs of bench:generalize (docs/bench/generalize/<variant>/<id>.json): one
 * table per variant, then the distribution (median, worst) of each figure for the tuning half and the check half
 * separately, patch and whole-image triggers apart.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The defense settings bench:generalize compares, as purify arguments. */
export const VARIANTS = {
  quick: { title: 'Class demo preset (keeps the target class)', args: ['--preset', 'quick'], detect: false },
  'quick-paper-loss': { title: "Class demo preset with MCLDef's loss as the paper states it (--keep-target off)", args: ['--preset', 'quick', '--keep-target', 'off'], detect: false },
  'quick-detect': { title: 'Class demo preset, target unknown (--detect: batched detection with successive halving)', args: ['--preset', 'quick', '--detect'], detect: true },
  'paper-keep': { title: 'Paper preset with --keep-target on', args: ['--preset', 'paper', '--keep-target', 'on'], detect: false },
} as const;
export type VariantName = keyof typeof VARIANTS;

/** One finished run. Accuracies and rates in [0, 1]; deltas in [−1, 1]. */
export interface Row {
  id: string;
  half: 'tune' | 'check';
  kind: string;
  trigger: string;
  picture: string;
  target: number;
  targetName: string;
  /** The target the defense purified against (detected when the variant detects). */
  found: number | null;
  flagged?: number | null;
  asrBefore: number;
  asrAfter: number;
  baBefore: number;
  baAfter: number;
  targetDelta: number;
  othersDelta: number;
  maskL1: number | null;
  maskPixels: number | null;
  invEpochs: number | null;
  seconds: number;
  stages: Record<string, number>;
  testImages: number;
}

const pt = (v: number) => (100 * v).toFixed(2);
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function rowLine(r: Row): string {
  const found = r.flagged === undefined ? '' : ` (found ${r.found ?? 'none'}${r.flagged === null ? ', no alarm' : ''})`;
  const stages = Object.entries(r.stages)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
  return `| ${r.id} | ${r.half} | <img src="${r.picture}" width="48" alt="${r.trigger}"> | ${r.trigger} | ${r.target} ${r.targetName}${found} | ${pt(r.asrBefore)} → ${pt(r.asrAfter)} | ${pt(r.baBefore)} → ${pt(r.baAfter)} | ${signed(r.targetDelta)} / ${signed(r.othersDelta)} | ${r.maskL1 === null ? '-' : `${r.maskL1.toFixed(1)} (${r.maskPixels} px)`} | ${r.seconds.toFixed(0)} s (${stages}) |`;
}

/** Median and worst of each figure over some rows. */
function distribution(label: string, rows: Row[]): string {
  if (rows.length === 0) return `| ${label} | 0 | - | - | - | - | - | - |`;
  const col = (f: (r: Row) => number, worst: 'max' | 'min') => {
    const v = rows.map(f);
    const w = worst === 'max' ? Math.max(...v) : Math.min(...v);
    return `${(100 * median(v)).toFixed(2)} / ${(100 * w).toFixed(2)}`;
  };
  const secs = rows.map((r) => r.seconds);
  const right = rows.filter((r) => r.flagged !== undefined);
  const found = right.length ? ` | ${right.filter((r) => r.found === r.target).length} / ${right.length}` : ' | -';
  return `| ${label} | ${rows.length} | ${col((r) => r.asrAfter, 'max')} | ${col((r) => r.baBefore - r.baAfter, 'max')} | ${col((r) => -r.targetDelta, 'max')} | ${col((r) => -r.othersDelta, 'max')} | ${median(secs).toFixed(0)} / ${Math.max(...secs).toFixed(0)} s${found} |`;
}

/** Reads the kept rows of every variant and writes generalize.md beside the folder. */
export function writeReport(outRoot: string): void {
  const parts: string[] = [];
  for (const [name, v] of Object.entries(VARIANTS)) {
    const dir = path.join(outRoot, name);
    if (!fs.existsSync(dir)) continue;
    const rows = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Row)
      .sort((a, b) => a.id.localeCompare(b.id));
    if (rows.length === 0) continue;
    const images = [...new Set(rows.map((r) => r.testImages))].join(' / ');
    const isPatch = (r: Row) => r.kind === 'patch';
    parts.push(
      `## ${v.title}\n\n\`npm run bench:generalize -- --variant ${name}\` (${images} test images per model).\n\n` +
        '| model | half | trigger | | target | ASR % before → after | BA % before → after | target class / other classes (points) | mask L1 | engine time |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' +
        rows.map(rowLine).join('\n') +
        '\n\nDistribution, median / worst (ASR after, BA drop, target-class drop and other classes\' mean drop in points; engine time' +
        (rows.some((r) => r.flagged !== undefined) ? '; right target found' : '') +
        '):\n\n| rows | models | ASR after | BA drop | target-class drop | other classes\' drop | time | found |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n' +
        [
          distribution('tuning half, patch', rows.filter((r) => r.half === 'tune' && isPatch(r))),
          distribution('**check half, patch**', rows.filter((r) => r.half === 'check' && isPatch(r))),
          distribution('tuning half, whole-image', rows.filter((r) => r.half === 'tune' && !isPatch(r))),
          distribution('**check half, whole-image**', rows.filter((r) => r.half === 'check' && !isPatch(r))),
        ].join('\n'),
    );
  }
  const md = `# The defense on models it was never tuned on

Written by \`npm run bench:generalize\` (tools/bench/generalize-bench.ts) from the runs kept in
[generalize/](generalize/). The suite (\`tools/zoo/suite.py\`, cached in .cache/suite/, not committed): WRN-16-1s made
by fine-tuning the shipped clean model on the CIFAR-10 training set with a share of each epoch stamped and relabelled,
seeds 0-23 patch triggers (2-6 pixels a side, corners, edges or centre, random or black/white colours, opaque or
blended, random target, 5-10% poisoned), seeds 24-27 whole-image triggers (sinusoids of other frequencies, blended
noise). **Even seeds are the tuning half** (looked at while the class preset was tuned), **odd seeds the check half**
(run only to report). Engine time is the defense's own stage time (WASM, one thread, this shared 2-core machine);
the evaluations before and after on the test set are not included.

${parts.join('\n\n')}
`;
  fs.writeFileSync(path.join(outRoot, '..', 'generalize.md'), md);
}
