/**
 * `npm run bench:detect`: Neural Cleanse target detection (`mcldef detect`) on every shipped model, the clean
 * reference included, and a table of what it flagged against each model's true target.
 *
 *   npm run bench:detect -- [--models badnets,clean,...] [--epochs 2] [--lr 0.05] [--clean DATA] [--seed S]
 *                           [--out docs/bench] [--fresh]
 *
 * Each model's report goes to <out>/detect/<budget>/<model>.json (budget: e<epochs>-lr<lr>[-s<seed>]) as soon as it
 * is done, and <out>/detect.md is rewritten with one table per budget found there, so budgets sit side by side, an
 * interrupted run keeps what it finished and a re-run does only the missing models (--fresh redoes the budget).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { anomalyReport, median } from '../../engine/defense/detect';
import { initNodeBackend } from '../../platform/node/backend';
import { repoRoot } from '../../platform/node/paths';
import { intOption, numOption, parse, UsageError } from '../args';
import { runDetect } from '../commands/detect';
import { formatDuration } from '../progress';

const HELP = `npm run bench:detect -- [--models a,b] [--epochs N] [--lr X] [--clean DATA] [--seed S] [--out DIR] [--fresh]`;

interface ZooEntry {
  name: string;
  attack?: string;
  target?: number;
  path: string;
}

/** The subset of `mcldef detect`'s report.json the table needs. */
interface DetectReport {
  budget: { epochsPerClass: number; maxSteps: number; batchSize: number; lambda: number; lr: number };
  seed: number;
  clean: { data: string; images: number };
  threshold?: number;
  flagged: number | null;
  flaggedAll: number[];
  median: number;
  mad: number;
  classes: Array<{ cls: number; name: string; maskL1: number; anomaly: number; attackRate: number }>;
  seconds: number;
  backend: string;
}

const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : String(v));

/** One budget's reports (in zoo order) and the command that made them. */
export interface DetectSection {
  command: string;
  entries: Array<{ model: ZooEntry; report: DetectReport }>;
}

/** detect.md: one section per budget. */
export function renderDetect(sections: DetectSection[], machine: string): string {
  const lines = ['# Target detection (Neural Cleanse) on the shipped models', ''];
  lines.push(
    'A class is flagged when its mask L1 is below the median and its anomaly index |L1 - median| / (1.4826 * MAD) exceeds 2 (Neural Cleanse, "L1 scale"); the verdict names the most anomalous one.',
    'The "log scale" columns apply the same rule to log L1 (`mcldef detect --scale log`), computed from the same masks: it asks how many times smaller a mask is, not by how many pixels.',
    `Re-running a command resumes it (only missing models run). Machine: ${machine}.`,
    '',
  );
  for (const section of sections) lines.push(...renderSection(section));
  return lines.join('\n');
}

function renderSection({ command, entries }: DetectSection): string[] {
  const lines: string[] = [];
  const b = entries[0]?.report.budget;
  if (b) {
    lines.push(`## ${b.epochsPerClass} inversion epochs per class, Adam lr ${b.lr}`, '');
    lines.push(`Command: \`${command}\``, '');
    lines.push(
      `Budget per class: ${b.epochsPerClass} epochs, Adam lr ${b.lr}, batch ${b.batchSize}, lambda ${b.lambda}` +
        `${b.maxSteps ? `, at most ${b.maxSteps} steps` : ''}; clean data \`${entries[0].report.clean.data}\` (${entries[0].report.clean.images} images); seed ${entries[0].report.seed}.`,
      '',
    );
  }
  lines.push('| model | attack | true target | flagged, L1 scale (index) | verdict | flagged, log scale (index) | verdict | target mask L1 / median | time |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  const verdicts: Record<string, ReturnType<typeof anomalyReport>> = {};
  for (const { model, report: r } of entries) {
    const attack = model.attack ?? 'none';
    const backdoored = attack !== 'none' && attack !== 'clean';
    const l1 = r.classes.map((c) => c.maskL1);
    const cells: string[] = [];
    for (const scale of ['linear', 'log'] as const) {
      const v = anomalyReport(l1, r.threshold ?? 2, scale);
      if (scale === 'linear') verdicts[model.name] = v;
      cells.push(v.flaggedAll.length ? v.flaggedAll.map((c) => `${c} ${r.classes[c].name} (${fmt(v.anomaly[c])})`).join(', ') : 'none');
      if (!backdoored) cells.push(v.flagged === null ? 'clean: correct' : 'false alarm');
      else if (v.flagged === model.target) cells.push('target found');
      else cells.push(v.flagged === null ? 'missed (nothing flagged)' : 'wrong class');
    }
    const t = model.target !== undefined && backdoored ? r.classes[model.target] : null;
    lines.push(`| ${model.name} | ${attack} | ${backdoored ? model.target : '-'} | ${cells.join(' | ')} | ${t ? `${fmt(t.maskL1, 1)} / ${fmt(median(l1), 1)}` : '-'} | ${formatDuration(r.seconds)} |`);
  }
  lines.push('', 'Mask L1 per class (bold: flagged on the L1 scale):', '');
  const n = Math.max(0, ...entries.map((e) => e.report.classes.length));
  lines.push(`| model | ${Array.from({ length: n }, (_, c) => String(c)).join(' | ')} |`);
  lines.push(`|---|${'---|'.repeat(n)}`);
  for (const { model, report: r } of entries) {
    lines.push(`| ${model.name} | ${r.classes.map((c) => (verdicts[model.name].flaggedAll.includes(c.cls) ? `**${fmt(c.maskL1, 1)}**` : fmt(c.maskL1, 1))).join(' | ')} |`);
  }
  lines.push('', `Each model's full report (anomaly indices, attack rates, mask statistics): \`detect/${budgetTag(b!.epochsPerClass, b!.lr, entries[0].report.seed)}/<model>.json\`.`, '');
  return lines;
}

/** The folder name of a budget under <out>/detect/. */
export function budgetTag(epochs: number, lr: number, seed: number): string {
  return `e${epochs}-lr${lr}${seed ? `-s${seed}` : ''}`;
}

const commandOf = (epochs: number, lr: number, seed: number) => `npm run bench:detect -- --epochs ${epochs} --lr ${lr}${seed ? ` --seed ${seed}` : ''}`;

/** Runs the benchmark with command-line arguments. */
export async function runDetectBench(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return;
  }
  const { values } = parse(argv, {
    models: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    clean: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    zoo: { type: 'string' },
    fresh: { type: 'boolean' },
  });
  const root = repoRoot;
  const epochs = intOption(values.epochs, 'epochs', 2, 1);
  const lr = numOption(values.lr, 'lr', 0.05, 1e-6, 10);
  const seed = intOption(values.seed, 'seed', 0, 0, 2 ** 32 - 1);
  const clean = values.clean ?? path.join(root, 'public/data/clean-5pct.mcld');
  const outDir = values.out ?? path.join(root, 'docs/bench');
  const indexFile = values.zoo ?? path.join(root, 'models/index.json');
  const base = path.resolve(path.dirname(indexFile), '..');
  const zoo = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { models: ZooEntry[] }).models.map((m) => ({ ...m, path: path.resolve(base, m.path) }));
  const wanted = values.models ? values.models.split(',') : zoo.map((m) => m.name);
  for (const w of wanted) if (!zoo.some((m) => m.name === w)) throw new UsageError(`--models: no model "${w}" in ${indexFile} (it has ${zoo.map((m) => m.name).join(', ')})`);

  const detectDir = path.join(outDir, 'detect');
  const reportsDir = path.join(detectDir, budgetTag(epochs, lr, seed));
  if (values.fresh) fs.rmSync(reportsDir, { recursive: true, force: true });
  fs.mkdirSync(reportsDir, { recursive: true });
  const read = (dir: string, name: string): DetectReport | null => {
    const f = path.join(dir, `${name}.json`);
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as DetectReport) : null;
  };
  const backend = (await initNodeBackend()).backend;
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, tfjs ${tf.version.tfjs} ${backend}`;
  const write = () => {
    const sections: DetectSection[] = [];
    for (const tag of fs.readdirSync(detectDir).sort()) {
      const dir = path.join(detectDir, tag);
      if (!fs.statSync(dir).isDirectory()) continue;
      const entries = zoo.map((model) => ({ model, report: read(dir, model.name) })).filter((e): e is { model: ZooEntry; report: DetectReport } => e.report !== null);
      if (!entries.length) continue;
      const b = entries[0].report;
      sections.push({ command: commandOf(b.budget.epochsPerClass, b.budget.lr, b.seed), entries });
    }
    sections.sort((a, b) => a.entries[0].report.budget.epochsPerClass - b.entries[0].report.budget.epochsPerClass || a.entries[0].report.budget.lr - b.entries[0].report.budget.lr);
    fs.writeFileSync(path.join(outDir, 'detect.md'), renderDetect(sections, machine));
  };
  for (const name of wanted) {
    const prior = read(reportsDir, name);
    if (prior && prior.clean.data === path.relative(root, clean)) continue;
    if (prior) throw new UsageError(`${reportsDir}/${name}.json was made with other clean data (${prior.clean.data}): use --fresh or another --out`);
    const model = zoo.find((m) => m.name === name)!;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcldef-detect-'));
    try {
      console.error(`bench:detect: ${name} (${model.attack ?? 'none'}, target ${model.target ?? '-'})`);
      await runDetect(['--model', model.path, '--clean', clean, '--epochs', String(epochs), '--lr', String(lr), '--seed', String(seed), '--out', tmp]);
      const report = JSON.parse(fs.readFileSync(path.join(tmp, 'report.json'), 'utf8'));
      report.model = path.relative(root, report.model);
      report.clean.data = path.relative(root, clean);
      fs.writeFileSync(path.join(reportsDir, `${name}.json`), JSON.stringify(report, null, 1));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    write();
  }
  write();
  console.error(`bench:detect: wrote ${path.join(outDir, 'detect.md')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runDetectBench(process.argv.slice(2)).catch((e) => {
    console.error(`bench:detect: ${(e as Error).message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
