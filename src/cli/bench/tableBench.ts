/**
 * `npm run bench:table`: each defense on each shipped backdoored model, at the paper's settings by default, and a
 * Table 1-style comparison (ASR / BA on the full test set before and after, wall time per stage, images/s).
 *
 *   npm run bench:table -- [--models badnets,trojan,...] [--methods mcldef,ft,nc,nad,mcldef+]
 *                          [--clean public/data/clean-5pct.mcld] [--test cifar10:test] [--out docs/bench] [--fresh]
 *                          [--epochs N] [--inv-epochs N] [--max-steps N] [--eval-size N] [--seed S]
 *
 * One cell (model x method) at a time. Results go to <out>/table.json after every cell and <out>/table.md is
 * rewritten from it, so an interrupted benchmark keeps what it finished and a re-run resumes with the cells still
 * missing (--fresh starts over). Stage 1 (trigger inversion) runs once per model and is shared by MCLDef, NC and
 * MCLDef+ (the inverted trigger is kept in <out>/triggers/<model>.json); its time is listed once per model.
 * Options that change the settings (--epochs, --inv-epochs, --max-steps) mark the table as NOT the paper's
 * settings; results made with other settings are never mixed (the run refuses; use --fresh or another --out).
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { poisonTestSet } from '../../engine/attacks/poison';
import type { Dataset } from '../../engine/data/dataset';
import { DEFENSE_METHODS, type DefenseConfigInput, type DefenseMethod, needsTrigger, resolveConfig } from '../../engine/defense/config';
import type { DefenseEvent, InvertedTrigger, StageTiming } from '../../engine/defense/events';
import { invertTrigger } from '../../engine/defense/invert';
import { RunControl } from '../../engine/defense/control';
import { driveDefense, runDefense } from '../../engine/defense/run';
import { evaluateBackdoor } from '../../engine/metrics';
import { createRng } from '../../engine/random';
import { initNodeBackend } from '../../platform/node/backend';
import { attackFromName, loadDataArg } from '../../platform/node/data';
import { loadModel } from '../../platform/node/modelFiles';
import { repoRoot } from '../../platform/node/paths';
import { intOption, parse, UsageError } from '../args';
import { stageTotal } from '../commands/purify';
import { formatDuration, ProgressBar } from '../progress';
import { renderTable, type BenchCell, type BenchResults, type ModelRow } from './tableFormat';

const HELP = `npm run bench:table -- [--models a,b] [--methods mcldef,ft,nc,nad,mcldef+] [--clean DATA] [--test DATA]
                       [--out DIR] [--fresh] [--epochs N] [--inv-epochs N] [--max-steps N] [--eval-size N] [--seed S] [--zoo INDEX]`;

interface ZooIndex {
  models: Array<{ name: string; attack?: string; target?: number; path: string }>;
}

/**
 * The backdoored models of a zoo index (models/index.json; the clean reference model is left out), with their
 * folders resolved: an entry's path is relative to the folder above the index's own (the repo root for the zoo).
 */
function shippedModels(indexFile: string): ZooIndex['models'] {
  let index: ZooIndex;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as ZooIndex;
  } catch (e) {
    throw new Error(`cannot read the model index ${indexFile}: ${(e as Error).message}`);
  }
  const base = path.resolve(path.dirname(indexFile), '..');
  return index.models.filter((m) => m.attack && m.attack !== 'none' && m.attack !== 'clean').map((m) => ({ ...m, path: path.resolve(base, m.path) }));
}

/** The command line that reproduces the settings (model and method lists, --fresh and --eval-size left out). */
function settingsCommand(argv: string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--fresh') continue;
    if (['--models', '--methods', '--eval-size'].includes(argv[i])) {
      i++;
      continue;
    }
    kept.push(argv[i]);
  }
  return `npm run bench:table${kept.length ? ' -- ' + kept.join(' ') : ''}`;
}

function readResults(file: string): BenchResults | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults;
  } catch {
    throw new Error(`${file} is not valid JSON: delete it or run with --fresh`);
  }
}

/**
 * Writes table.json and table.md. Cells and model rows that another bench process (same settings, another
 * --models / --methods split) wrote to the file since this one read it are merged in first, so runs in parallel
 * on one results folder do not drop each other's finished cells; this process's own entries win on a clash.
 */
function writeResults(outDir: string, results: BenchResults): void {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'table.json');
  let onDisk: BenchResults | null = null;
  try {
    onDisk = readResults(file);
  } catch {
    onDisk = null; // unreadable: ours replaces it
  }
  if (onDisk && JSON.stringify(onDisk.settings) === JSON.stringify(results.settings)) {
    for (const [k, row] of Object.entries(onDisk.models)) {
      const mine = results.models[k];
      if (!mine) results.models[k] = row;
      else if (!mine.stage1 && row.stage1) mine.stage1 = row.stage1;
    }
    for (const [k, cell] of Object.entries(onDisk.cells)) if (!results.cells[k]) results.cells[k] = cell;
  }
  const tmp = path.join(outDir, `table.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(results, null, 1));
  fs.renameSync(tmp, file);
  fs.writeFileSync(path.join(outDir, 'table.md'), renderTable(results));
}

function saveTrigger(file: string, t: InvertedTrigger, seconds: number, images: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ ...t, mask: Array.from(t.mask, (v) => +v.toFixed(6)), pattern: Array.from(t.pattern, (v) => +v.toFixed(6)), seconds, images }));
}

function loadTrigger(file: string): (InvertedTrigger & { seconds: number; images: number }) | null {
  if (!fs.existsSync(file)) return null;
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { ...raw, mask: Float32Array.from(raw.mask), pattern: Float32Array.from(raw.pattern) };
}

/** A stage-by-stage progress bar on stderr for one defense run. */
function progressPrinter(label: string, cfg: ReturnType<typeof resolveConfig>, nClean: number, numClasses: number): (e: DefenseEvent) => void {
  let bar: ProgressBar | null = null;
  let total = 0;
  let done = 0;
  return (e) => {
    if (e.type === 'stage' && e.phase === 'start') {
      total = stageTotal(e.stage, cfg, nClean, numClasses);
      done = 0;
      bar = total > 0 ? new ProgressBar(`${label} ${e.label}`, 'step') : null;
    } else if (e.type === 'stage') {
      if (process.stderr.isTTY && bar && done < total) process.stderr.write('\n');
      bar = null;
    } else if (e.type === 'inversion-step' || e.type === 'purify-step') {
      bar?.update(++done, total, `loss ${e.loss.toFixed(4)}`);
    } else if (e.type === 'purify-epoch' && e.ba !== null) {
      const pct = (v: number | null) => (v === null ? '-' : (100 * v).toFixed(2) + '%');
      process.stderr.write(`  ${label} ${e.stage} epoch ${e.epoch}: BA ${pct(e.ba)} ASR ${pct(e.asrTrue)} (${e.nClean} test images)\n`);
    }
  };
}

/** Runs the benchmark with command-line arguments; resolves to the results (also written under --out). */
export async function runTableBench(argv: string[]): Promise<BenchResults | null> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return null;
  }
  const { values } = parse(argv, {
    models: { type: 'string' },
    methods: { type: 'string' },
    clean: { type: 'string' },
    test: { type: 'string' },
    out: { type: 'string' },
    fresh: { type: 'boolean' },
    epochs: { type: 'string' },
    'inv-epochs': { type: 'string' },
    'max-steps': { type: 'string' },
    'eval-size': { type: 'string' },
    seed: { type: 'string' },
    zoo: { type: 'string' },
  });
  const shipped = shippedModels(path.resolve(values.zoo ?? path.join(repoRoot, 'models', 'index.json')));
  const modelNames = values.models ? values.models.split(',').map((s) => s.trim()) : shipped.map((m) => m.name);
  for (const n of modelNames) if (!shipped.some((m) => m.name === n)) throw new UsageError(`--models: "${n}" is not a shipped backdoored model (have ${shipped.map((m) => m.name).join(', ')})`);
  const methods = (values.methods ? values.methods.split(',').map((s) => s.trim()) : ['mcldef', 'ft', 'nc', 'nad', 'mcldef+']) as DefenseMethod[];
  for (const m of methods) if (!DEFENSE_METHODS.includes(m)) throw new UsageError(`--methods: "${m}" is not one of ${DEFENSE_METHODS.join(', ')}`);
  const cleanPath = values.clean ?? 'public/data/clean-5pct.mcld';
  const testPath = values.test ?? 'cifar10:test';
  const outDir = path.resolve(values.out ?? path.join(repoRoot, 'docs', 'bench'));
  const seed = intOption(values.seed, 'seed', 0, 0, 2 ** 32 - 1);

  // Only options that change the defense itself enter the settings; --eval-size only changes the per-epoch curves.
  const overrides: DefenseConfigInput = {};
  if (values.epochs !== undefined) overrides.epochs = intOption(values.epochs, 'epochs', 20, 0);
  if (values['inv-epochs'] !== undefined) overrides.inversion = { epochs: intOption(values['inv-epochs'], 'inv-epochs', 100, 1) };
  if (values['max-steps'] !== undefined) overrides.maxStepsPerEpoch = intOption(values['max-steps'], 'max-steps', 0, 0);
  const settings = { clean: cleanPath, test: testPath, seed, overrides };
  const paper = Object.keys(overrides).length === 0;

  const resultsFile = path.join(outDir, 'table.json');
  let results = values.fresh ? null : readResults(resultsFile);
  if (results && JSON.stringify(results.settings) !== JSON.stringify(settings)) {
    throw new Error(`${resultsFile} holds results made with other settings (${JSON.stringify(results.settings)}); run with --fresh to start over, or give another --out`);
  }
  if (values.fresh) {
    // Gone before the first write, which would otherwise merge the old cells back in.
    fs.rmSync(resultsFile, { force: true });
    fs.rmSync(path.join(outDir, 'triggers'), { recursive: true, force: true });
  }
  const backend = (await initNodeBackend()).backend;
  const cpu = os.cpus();
  results ??= {
    command: settingsCommand(argv),
    settings,
    paperSettings: paper,
    machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, tfjs ${tf.version.tfjs} ${backend}`,
    models: {},
    cells: {},
  };
  const evalSize = intOption(values['eval-size'], 'eval-size', 1000, 0);

  const clean = await loadDataArg(cleanPath);
  const test = await loadDataArg(testPath);
  console.error(`bench:table: ${modelNames.length} models x ${methods.length} methods; clean ${clean.n} images, test ${test.n}; backend ${backend}; results -> ${path.relative(process.cwd(), outDir) || '.'}`);
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const t0 = Date.now();
  try {

    for (const name of modelNames) {
      const entry = shipped.find((m) => m.name === name)!;
      const todo = methods.filter((m) => !results!.cells[`${name}/${m}`]);
      if (todo.length === 0) continue;
      const { model, manifest } = await loadModel(entry.path);
      try {
        const numClasses = model.outputs[1].shape[1] as number;
        const target = manifest?.target ?? entry.target ?? 5;
        const attackName = manifest?.attack?.name ?? entry.attack!;
        const stamped: Dataset = poisonTestSet(test, await attackFromName(attackName), target);
        const evalFull = (m: tf.LayersModel) => evaluateBackdoor(m, test, stamped, target, { batchSize: 256, numClasses });
        let row: ModelRow | undefined = results.models[name];
        if (!row) {
          const before = await evalFull(model);
          row = { attack: attackName, title: (manifest?.attack as { title?: string } | undefined)?.title ?? attackName, target, before: { ba: before.ba, asr: before.asr }, stage1: null };
          results.models[name] = row;
          writeResults(outDir, results);
        }
        console.error(`${name}: before BA ${(100 * row.before.ba).toFixed(2)}% ASR ${(100 * row.before.asr).toFixed(2)}%`);

        // Stage 1, once per model, for the methods that need it.
        const triggerFile = path.join(outDir, 'triggers', `${name}.json`);
        let trigger = todo.some(needsTrigger) ? loadTrigger(triggerFile) : null;
        if (todo.some(needsTrigger) && !trigger) {
          const cfg = resolveConfig({ ...overrides, method: 'mcldef', target, seed, inversion: { ...overrides.inversion, snapshotEvery: 0 } });
          const onEvent = progressPrinter(name, cfg, clean.n, numClasses);
          onEvent({ type: 'stage', stage: 'invert', phase: 'start', label: `stage 1 (class ${target})` });
          const start = Date.now();
          const gen = invertTrigger(model, clean, target, cfg.inversion, createRng(seed).fork('invert'), new RunControl(controller.signal, 0));
          let r = await gen.next();
          while (!r.done) {
            onEvent(r.value);
            r = await gen.next();
          }
          const t = r.value;
          const seconds = (Date.now() - start) / 1000;
          const images = t.steps * Math.min(cfg.inversion.batchSize, clean.n);
          onEvent({ type: 'stage', stage: 'invert', phase: 'end', label: 'stage 1', seconds });
          saveTrigger(triggerFile, t, seconds, images);
          trigger = { ...t, seconds, images };
        }
        if (trigger) {
          row.stage1 = { seconds: trigger.seconds, images: trigger.images, imagesPerSecond: trigger.images / Math.max(trigger.seconds, 1e-9), maskL1: trigger.maskL1, epochs: trigger.epochs, stoppedEarly: trigger.stoppedEarly };
          writeResults(outDir, results);
        }

        for (const method of todo) {
          const input: DefenseConfigInput = { ...overrides, method, target, seed, evalSize, probePerClass: 0 };
          const cfg = resolveConfig(input);
          const result = await driveDefense(
            runDefense(cfg, { model, clean, evalSet: test, trueTrigger: stamped, trueTarget: target, signal: controller.signal, yieldEvery: 0, trigger: needsTrigger(method) ? trigger! : undefined }),
            progressPrinter(`${name}/${method}`, cfg, clean.n, numClasses),
          );
          try {
            const after = await evalFull(result.model);
            const stages: StageTiming[] = result.summary.timings.filter((t) => t.stage !== 'evaluate');
            const cell: BenchCell = {
              after: { ba: after.ba, asr: after.asr },
              stages,
              seconds: stages.reduce((s, t) => s + t.seconds, 0),
              date: new Date().toISOString(),
            };
            results.cells[`${name}/${method}`] = cell;
            writeResults(outDir, results);
            console.error(`${name}/${method}: BA ${(100 * after.ba).toFixed(2)}% ASR ${(100 * after.asr).toFixed(2)}% in ${formatDuration(cell.seconds)} (elapsed ${formatDuration((Date.now() - t0) / 1000)})`);
          } finally {
            result.model.dispose();
          }
        }
      } finally {
        model.dispose();
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runTableBench(process.argv.slice(2)).then(
    (r) => r && process.stdout.write(renderTable(r)),
    (e: unknown) => {
      const err = e as Error;
      console.error(err instanceof UsageError ? `${err.message}\n${HELP}` : err.name === 'AbortError' ? 'interrupted: finished cells are kept; run again to resume' : `error: ${err.message}`);
      process.exit(err.name === 'AbortError' ? 130 : 1);
    },
  );
}
