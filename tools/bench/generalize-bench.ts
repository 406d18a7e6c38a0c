/**
 * bench:generalize: the defense on backdoored models it was never tuned on. Runs `mcldef purify` on every model of
 * the generalization suite (tools/zoo/suite.py: seeded patch and whole-image triggers implanted by fine-tuning the
 * shipped clean model, cached in .cache/suite/) and writes docs/bench/generalize.md: per model the trigger, ASR
 * and BA before and after, the target class's accuracy change beside the other classes' mean, mask L1 and time;
 * then the distribution for the tuning half (even seeds, looked at while tuning) and the check half (odd seeds,
 * run only to report) separately. Each finished run is kept in docs/bench/generalize/<variant>/<id>.json, so a
 * stopped bench resumes where it stopped.
 *
 * Run: npm run bench:generalize [-- --variant quick|quick-paper-loss|quick-detect|paper-keep] [--half tune|check]
 *      [--models s01,s03] [--test cifar10:test] [--results DIR (default docs/bench/generalize)] [--table-only]
 */
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runPurify } from '../../src/cli/commands/purify';
import { initNodeBackend } from '../../src/platform/node/backend';
import { repoRoot } from '../../src/platform/node/paths';
import { type Row, VARIANTS, type VariantName, writeReport } from './generalize-report';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const suiteDir = path.resolve(opt('suite') ?? path.join(repoRoot, '.cache', 'suite'));
const test = opt('test') ?? 'cifar10:test';
const variants = (opt('variant') ?? 'quick').split(',') as VariantName[];
const half = opt('half');
const only = opt('models')?.split(',');
const outRoot = path.resolve(opt('results') ?? path.join(repoRoot, 'docs', 'bench', 'generalize'));

/** A suite model's spec.json (tools/zoo/suite.py). */
export interface SuiteSpec {
  id: string;
  seed: number;
  half: 'tune' | 'check';
  kind: 'patch' | 'sinusoid' | 'blended-noise';
  target: number;
  targetName: string;
  rate: number;
  size?: [number, number];
  place?: string;
  colours?: string;
  alpha?: number;
  delta?: number;
  frequency?: number;
}

function listSuite(): SuiteSpec[] {
  if (!fs.existsSync(suiteDir)) throw new Error(`no suite at ${suiteDir}: build it with /usr/bin/python3 tools/zoo/suite.py`);
  return fs
    .readdirSync(suiteDir)
    .filter((d) => fs.existsSync(path.join(suiteDir, d, 'train.json')))
    .map((d) => JSON.parse(fs.readFileSync(path.join(suiteDir, d, 'spec.json'), 'utf8')) as SuiteSpec)
    .sort((a, b) => a.seed - b.seed);
}

/** The trigger as a small picture for the table: the RGBA PNG itself, or the sinusoid drawn around mid-grey. */
function triggerPicture(spec: SuiteSpec): string {
  const file = path.join(outRoot, 'triggers', `${spec.id}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const src = path.join(suiteDir, spec.id, 'trigger.png');
  if (fs.existsSync(src)) {
    fs.copyFileSync(src, file);
  } else {
    const png = new PNG({ width: 32, height: 32 });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const v = Math.round(128 + (spec.delta ?? 20) * Math.sin((2 * Math.PI * (spec.frequency ?? 6) * x) / 32));
        png.data.set([v, v, v, 255], 4 * (32 * y + x));
      }
    }
    fs.writeFileSync(file, PNG.sync.write(png));
  }
  return path.relative(path.join(repoRoot, 'docs', 'bench'), file);
}

/** purify's arguments for one suite model and variant. */
function purifyArgs(spec: SuiteSpec, variant: VariantName, out: string): string[] {
  const dir = path.join(suiteDir, spec.id);
  const attack = spec.kind === 'sinusoid' ? ['--attack', 'sig', '--trigger', path.join(dir, 'spec.json')] : ['--attack', 'mask', '--trigger', path.join(dir, 'trigger.png')];
  const target = VARIANTS[variant].detect ? ['--detect', '--attack-target', String(spec.target)] : ['--target', String(spec.target)];
  return ['--model', path.join(dir, 'model.safetensors'), '--clean', 'public/data/clean-5pct.mcld', '--test', test, '--out', out, ...attack, ...target, ...VARIANTS[variant].args];
}

interface PurifyReport {
  before: { ba: number; asr: number; perClass: Record<string, number> };
  after: { ba: number; asr: number; perClass: Record<string, number> };
  target: number | null;
  detection: { flagged: number | null; anomaly: number[]; l1: number[] } | null;
  inversion: { epochs: number; steps: number; converged: boolean; mask: { l1: number; pixelsAbove05: number } } | null;
  timings: Array<{ stage: string; seconds: number }>;
  totalSeconds: number;
  test: { images: number };
}

/** One finished run reduced to a table row. */
function toRow(spec: SuiteSpec, r: PurifyReport, picture: string): Row {
  const names = Object.keys(r.before.perClass);
  const delta = (i: number) => r.after.perClass[names[i]] - r.before.perClass[names[i]];
  const others = names.map((_, i) => i).filter((i) => i !== spec.target);
  return {
    id: spec.id,
    half: spec.half,
    kind: spec.kind,
    trigger: describe(spec),
    picture,
    target: spec.target,
    targetName: spec.targetName,
    found: r.target,
    flagged: r.detection ? r.detection.flagged : undefined,
    asrBefore: r.before.asr,
    asrAfter: r.after.asr,
    baBefore: r.before.ba,
    baAfter: r.after.ba,
    targetDelta: delta(spec.target),
    othersDelta: others.reduce((s, i) => s + delta(i), 0) / others.length,
    maskL1: r.inversion?.mask.l1 ?? null,
    maskPixels: r.inversion?.mask.pixelsAbove05 ?? null,
    invEpochs: r.inversion?.epochs ?? null,
    seconds: r.totalSeconds,
    stages: Object.fromEntries(r.timings.map((t) => [t.stage, t.seconds])),
    testImages: r.test.images,
  };
}

/** Words for a trigger ("4x3 black-white patch at bottom, alpha 0.64, 5.9% poisoned"). */
export function describe(s: SuiteSpec): string {
  const rate = `${(100 * s.rate).toFixed(1)}% poisoned`;
  if (s.kind === 'sinusoid') return `sinusoid, amplitude ${s.delta}, ${s.frequency} periods, ${rate}`;
  if (s.kind === 'blended-noise') return `random noise blended at alpha ${s.alpha?.toFixed(2)}, ${rate}`;
  const opacity = s.alpha === 1 ? 'opaque' : `alpha ${s.alpha?.toFixed(2)}`;
  return `${s.size?.[0]}x${s.size?.[1]} ${s.colours} patch, ${s.place}, ${opacity}, ${rate}`;
}

async function main(): Promise<void> {
  const suite = listSuite().filter((s) => (!half || s.half === half) && (!only || only.includes(s.id)));
  if (!args.includes('--table-only')) {
    await initNodeBackend(process.env.MCLDEF_BACKEND as 'wasm' | 'cpu' | undefined);
    for (const variant of variants) {
      if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}: expected one of ${Object.keys(VARIANTS).join(', ')}`);
      fs.mkdirSync(path.join(outRoot, variant), { recursive: true });
      for (const spec of suite) {
        const keep = path.join(outRoot, variant, `${spec.id}.json`);
        if (fs.existsSync(keep)) continue; // resume: finished runs are kept
        const out = fs.mkdtempSync(path.join(repoRoot, '.cache', `generalize-${spec.id}-`));
        fs.rmSync(out, { recursive: true });
        console.error(`== ${variant} ${spec.id} (${spec.half}): ${describe(spec)}, target ${spec.target}`);
        await runPurify(purifyArgs(spec, variant, out));
        const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as PurifyReport;
        fs.writeFileSync(keep, JSON.stringify(toRow(spec, report, triggerPicture(spec)), null, 1));
        fs.rmSync(out, { recursive: true, force: true });
        writeReport(outRoot);
      }
    }
  }
  writeReport(outRoot);
}

await main();
