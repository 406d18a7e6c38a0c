/**
 * The results of `npm run bench:table` (kept in <out>/table.json) and their Markdown rendering (<out>/table.md):
 * a Table 1-style grid (ASR / BA in %, full test set), the time of every stage, and the paper's Table 1 beside it.
 */
import type { DefenseMethod } from '../../engine/defense/config';
import type { StageTiming } from '../../engine/defense/events';

/** ASR and BA in [0, 1]. */
export interface AsrBa {
  ba: number;
  asr: number;
}

/** One model: its attack, its figures before any defense, and its shared stage 1. */
export interface ModelRow {
  attack: string;
  title: string;
  target: number;
  before: AsrBa;
  stage1: { seconds: number; images: number; imagesPerSecond: number; maskL1: number; epochs: number; stoppedEarly: boolean } | null;
}

/** One model x method. `stages` leaves out stage 1 (shared, in the model's row) and the evaluations. */
export interface BenchCell {
  after: AsrBa;
  stages: StageTiming[];
  seconds: number;
  date: string;
}

/** Everything a benchmark run (or several resumed runs) measured. */
export interface BenchResults {
  command: string;
  settings: { clean: string; test: string; seed: number; overrides: object };
  paperSettings: boolean;
  machine: string;
  models: Record<string, ModelRow>;
  /** Keyed `<model>/<method>`. */
  cells: Record<string, BenchCell>;
}

const COLUMNS: Array<{ method: DefenseMethod; title: string }> = [
  { method: 'ft', title: 'FT' },
  { method: 'nad', title: 'NAD' },
  { method: 'nc', title: 'NC' },
  { method: 'mcldef', title: 'MCLDef' },
  { method: 'mcldef+', title: 'MCLDef+' },
];

/** The paper's Table 1 (CIFAR-10, WRN-16-1), ASR / BA in %, from docs/design.md. */
const PAPER: Record<string, string[]> = {
  badnets: ['99.64 / 83.01', '12.78 / 80.64', '5.76 / 81.71', '3.58 / 81.37', '2.22 / 82.19'],
  trojan: ['99.38 / 82.84', '17.13 / 80.93', '5.14 / 81.20', '3.86 / 79.61', '2.62 / 82.04'],
  blend: ['98.98 / 84.20', '2.51 / 80.12', '3.84 / 80.79', '3.01 / 80.94', '2.12 / 83.98'],
  cl: ['95.47 / 86.44', '6.70 / 80.34', '6.99 / 81.39', '5.71 / 77.31', '0.24 / 83.97'],
  sig: ['99.03 / 84.64', '68.17 / 80.98', '6.81 / 81.79', '17.33 / 73.34', '3.56 / 73.81'],
};

const pct = (v: number) => (100 * v).toFixed(2);
const pair = (r: AsrBa) => `${pct(r.asr)} / ${pct(r.ba)}`;
const secs = (s: number) => (s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** Renders the results as Markdown; cells not measured yet read "not run". */
export function renderTable(r: BenchResults): string {
  const names = Object.keys(r.models);
  const lines: string[] = [];
  lines.push('# Defense benchmark: each method on each shipped model', '');
  lines.push(`Command: \`${r.command}\` (re-running it resumes: only the missing cells run; \`--models\` and \`--methods\` pick a subset).`, '');
  lines.push(
    r.paperSettings
      ? "Settings: the paper's (stage 1: lambda 0.01, Adam 0.005, batch 64, up to 100 epochs, patience 30; stage 2: SGD momentum 0.9, weight decay 1e-4, batch 64, 20 epochs, lr 0.1 / 0.01 / 0.001)."
      : `Settings: NOT the paper's (overrides ${JSON.stringify(r.settings.overrides)}).`,
  );
  lines.push(`Clean data: \`${r.settings.clean}\`; test data: \`${r.settings.test}\` (every figure below is on all of it); seed ${r.settings.seed}.`);
  lines.push(`Machine: ${r.machine}.`, '');
  lines.push('## ASR / BA (%) after each defense', '');
  lines.push(`| model | before | ${COLUMNS.map((c) => c.title).join(' | ')} |`);
  lines.push(`|---|---|${COLUMNS.map(() => '---').join('|')}|`);
  for (const name of names) {
    const m = r.models[name];
    const cells = COLUMNS.map((c) => {
      const cell = r.cells[`${name}/${c.method}`];
      return cell ? pair(cell.after) : 'not run';
    });
    lines.push(`| ${m.title} (${name}) | ${pair(m.before)} | ${cells.join(' | ')} |`);
  }
  lines.push('', '## Wall time', '');
  lines.push('Stage 1 (trigger inversion) runs once per model and serves MCLDef, NC and MCLDef+.', '');
  lines.push('| model | method | stages | total (stage 1 not included) |');
  lines.push('|---|---|---|---|');
  for (const name of names) {
    const s1 = r.models[name].stage1;
    if (s1) {
      lines.push(`| ${name} | stage 1 (shared) | invert ${secs(s1.seconds)} (${s1.imagesPerSecond.toFixed(0)} img/s, ${s1.epochs} epochs${s1.stoppedEarly ? ', early stop' : ''}, mask L1 ${s1.maskL1.toFixed(2)}) | ${secs(s1.seconds)} |`);
    }
    for (const c of COLUMNS) {
      const cell = r.cells[`${name}/${c.method}`];
      if (!cell) continue;
      const stages = cell.stages.map((t) => `${t.stage} ${secs(t.seconds)}${t.imagesPerSecond ? ` (${t.imagesPerSecond.toFixed(0)} img/s)` : ''}`).join(', ');
      lines.push(`| ${name} | ${c.title} | ${stages} | ${secs(cell.seconds)} |`);
    }
  }
  lines.push('', "## The paper's Table 1 (CIFAR-10, WRN-16-1), for comparison", '');
  lines.push('| attack | before | FT | NAD | NC | MCLDef |');
  lines.push('|---|---|---|---|---|---|');
  for (const [attack, row] of Object.entries(PAPER)) lines.push(`| ${attack} | ${row.join(' | ')} |`);
  lines.push('');
  return lines.join('\n');
}
