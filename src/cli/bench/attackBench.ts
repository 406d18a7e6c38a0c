/**
 * `npm run bench:attack`: plants each of the five shipped triggers and the drawn ones committed under
 * docs/bench/attack-triggers/ into models/clean with `mcldef attack` (in-process, the same engine code), and writes
 * time, ASR and BA before / after per trigger to docs/bench/attack.md (rewritten after every trigger).
 *
 *   npm run bench:attack [-- --steps N --rate R --lr X --data DATA --test DATA --only name,name]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../../platform/node/backend';
import { repoRoot } from '../../platform/node/paths';
import { runAttack } from '../commands/attack';

const TRIGGER_DIR = path.join(repoRoot, 'docs', 'bench', 'attack-triggers');
const OUT = path.join(repoRoot, 'docs', 'bench', 'attack.md');

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100' },
    rate: { type: 'string', default: '0.1' },
    lr: { type: 'string', default: '0.01' },
    data: { type: 'string', default: 'cifar10:train' },
    test: { type: 'string', default: path.join(repoRoot, 'public', 'data', 'test-1k.mcld') },
    only: { type: 'string' },
    out: { type: 'string', default: OUT },
  },
});

interface Row {
  name: string;
  wall: number;
  train: number;
  report: { before: { ba: number; asr: number }; after: { ba: number; asr: number; nClean: number; nAsr: number }; trigger: { coverage: number | null } };
}

const pct = (v: number) => `${(100 * v).toFixed(2)}`;

function table(rows: Row[], load: string): string {
  return [
    '# Planting backdoors into the clean WRN-16-1 (`npm run bench:attack`)',
    '',
    `Each trigger planted into models/clean by \`mcldef attack\` with --target 5 --rate ${values.rate} --steps ${values.steps} --lr ${values.lr}`,
    `(the defaults otherwise: 'pairs' mode, batch 64, BatchNorm in training mode), training images ${values.data}, BA / ASR on`,
    `${path.relative(repoRoot, values.test!) || values.test}. Wall time is the whole command (loading, evaluations before and after, training),`,
    `on ${os.cpus().length} cores shared with other jobs (load average at the end: ${load}). Drawn triggers: docs/bench/attack-triggers/.`,
    '',
    '| trigger | covers | wall s | training s | BA before | BA after | BA drop (points) | ASR before | ASR after |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const { before, after, trigger } = r.report;
      const cover = trigger.coverage === null ? '' : `${(100 * trigger.coverage).toFixed(1)}%`;
      return `| ${r.name} | ${cover} | ${r.wall.toFixed(1)} | ${r.train.toFixed(1)} | ${pct(before.ba)} | ${pct(after.ba)} | ${(100 * (before.ba - after.ba)).toFixed(2)} | ${pct(before.asr)} | ${pct(after.asr)} |`;
    }),
    '',
  ].join('\n');
}

await initNodeBackend('wasm');
const drawn = fs.readdirSync(TRIGGER_DIR).filter((f) => f.endsWith('.png')).sort();
let triggers = [...['badnets', 'trojan', 'blend', 'sig', 'cl'], ...drawn.map((f) => path.join(TRIGGER_DIR, f))];
if (values.only) {
  const keep = values.only.split(',');
  triggers = triggers.filter((t) => keep.includes(path.basename(t, '.png')));
}
const rows: Row[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-attack-bench-'));
for (const t of triggers) {
  const name = path.basename(t, '.png');
  const out = path.join(tmp, name);
  const t0 = performance.now();
  await runAttack(['--model', path.join(repoRoot, 'models', 'clean'), '--trigger', t, '--target', '5', '--rate', values.rate!, '--steps', values.steps!, '--lr', values.lr!,
    '--data', values.data!, '--test', values.test!, '--out', out, '--seed', '0']);
  const wall = (performance.now() - t0) / 1000;
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Row['report'] & { trainSeconds: number };
  rows.push({ name, wall, train: report.trainSeconds, report });
  console.log(`attack ${name}: wall ${wall.toFixed(1)} s, BA ${pct(report.before.ba)} -> ${pct(report.after.ba)}, ASR ${pct(report.before.asr)} -> ${pct(report.after.asr)}`);
  fs.writeFileSync(values.out!, table(rows, os.loadavg().map((v) => v.toFixed(2)).join(' ')));
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`wrote ${path.relative(repoRoot, values.out!)}`);
