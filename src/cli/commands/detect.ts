/** `mcldef detect`: Neural Cleanse target detection on its own (is this model backdoored, and towards which class?). */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { resolveConfig } from '../../engine/defense/config';
import { RunControl } from '../../engine/defense/control';
import { detectTarget, type DetectionOutcome } from '../../engine/defense/detect';
import type { DefenseEvent } from '../../engine/defense/events';
import { createRng } from '../../engine/random';
import { loadModel } from '../../platform/node/modelFiles';
import { prepareOutDir, removeCreated, StagedOutput } from '../../platform/node/safeFs';
import { choiceOption, CLEAN_OPTIONS, cleanOptions, intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelLoadOptions, numOption, parse, required } from '../args';
import { ProgressBar } from '../progress';
import { loadCleanData, modelFit } from './cleanData';
import { withSigint } from '../interrupt';
import { maskStats, triggerJson } from '../triggerFile';

export const detectHelp = `mcldef detect --model DIR --clean DATA [--epochs N] [--out DIR] [options]

  Neural Cleanse target detection: inverts a trigger for every class, then flags the class whose mask is
  abnormally small (anomaly index |L1 - median| / (1.4826 * MAD) above the threshold, below the median).
  Prints each class's mask L1, anomaly index and the attack rate of its trigger, and the verdict.
  Measured on the shipped models (docs/bench/detect.md): --epochs 6 --lr 0.05 --scale log finds the target of
  BadNets, Trojan and Blend and flags nothing on the clean model.
  --model      folder with model.json, or a .pth/.pt/.safetensors state_dict (see mcldef purify --help)
  --clean      the defender's clean data: image folder or .zip, .mcld shard, or cifar10:train
  --clean-share F   use a class-balanced share F in (0, 1] of --clean
  --epochs N        inversion epochs per class (default 10; the full inversion uses 100)
  --max-steps N     cap on inversion steps per class (default none)
  --lr X            Adam learning rate of the inversions (default 0.005, the paper's; 0.05 shrinks the masks
                    within a few epochs)
  --batch N         inversion batch size (default 64)
  --threshold X     anomaly index above which a class is flagged (default 2)
  --scale linear|log  the index on the mask L1 norms (default, Neural Cleanse) or on their logarithms (a mask
                    many times smaller than the others stands out even when the others spread widely)
  --seed S          seed (default 0; the same seed in purify --detect gives the same triggers)
  --out DIR         write report.json (every class) and trigger.json (the flagged class's trigger, else the
                    smallest mask's; usable as purify --inverted)
  --json            print report.json on stdout
${MODEL_OPTIONS_HELP}`;

/** The options of `mcldef detect`. */
function parseDetectArgs(argv: string[]) {
  return parse(argv, {
    ...MODEL_OPTIONS,
    ...CLEAN_OPTIONS,
    model: { type: 'string' },
    epochs: { type: 'string' },
    'max-steps': { type: 'string' },
    lr: { type: 'string' },
    threshold: { type: 'string' },
    scale: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  });
}

/** Runs `mcldef detect` (--out is checked before any work). */
export async function runDetect(argv: string[]): Promise<void> {
  const { values } = parseDetectArgs(argv);
  const modelPath = required(values.model, 'model');
  const { cleanPath, share, seed, batch } = cleanOptions(values);
  const cfg = resolveConfig({
    detect: true,
    seed,
    inversion: { batchSize: batch, snapshotEvery: 0 },
    detection: {
      epochs: intOption(values.epochs, 'epochs', 10, 1),
      maxSteps: intOption(values['max-steps'], 'max-steps', 0, 0),
      lr: values.lr === undefined ? null : numOption(values.lr, 'lr', 0.005, 1e-6, 10),
      threshold: numOption(values.threshold, 'threshold', 2, 0),
      scale: choiceOption(values.scale, 'scale', ['linear', 'log'] as const, 'linear'),
    },
  });

  const created = values.out ? prepareOutDir(values.out) : [];
  try {
    await detectInto(values, { modelPath, cleanPath, seed, share, batch, cfg });
  } catch (e) {
    removeCreated(created);
    throw e;
  }
}

async function detectInto(
  values: ReturnType<typeof parseDetectArgs>['values'],
  a: { modelPath: string; cleanPath: string; seed: number; share: number; batch: number; cfg: ReturnType<typeof resolveConfig> },
): Promise<void> {
  const { modelPath, cleanPath, seed, share, batch, cfg } = a;
  const loaded = await loadModel(modelPath, modelLoadOptions(values));
  const { model, manifest } = loaded;
  try {
    const fit = modelFit(model, manifest?.classNames, values.classes);
    const { numClasses } = fit;
    const { clean, all } = await loadCleanData(cleanPath, fit, share, seed);
    const names = fit.classNames ?? clean.classNames;
    const perClassSteps = cfg.detection.epochs * Math.ceil(clean.n / batch);
    const stepsPerClass = cfg.detection.maxSteps > 0 ? Math.min(perClassSteps, cfg.detection.maxSteps) : perClassSteps;

    const bar = new ProgressBar('detect', 'step');
    let done = 0;
    const t0 = performance.now();
    // yieldEvery 1: a macrotask between steps, so Ctrl-C (delivered by the event loop) reaches the signal.
    const outcome: DetectionOutcome = await withSigint(async (signal) => {
      const gen = detectTarget(model, clean, numClasses, cfg.inversion, cfg.detection, createRng(seed).fork('detect'), new RunControl(signal, 1));
      let next = await gen.next();
      while (!next.done) {
        const e: DefenseEvent = next.value;
        if (e.type === 'inversion-step') {
          bar.update(++done, numClasses * stepsPerClass, `class ${e.target} L1 ${e.maskL1.toFixed(1)}`);
        } else if (e.type === 'detection-class') {
          done = e.done * stepsPerClass;
        }
        next = await gen.next();
      }
      return next.value;
    });
    const seconds = (performance.now() - t0) / 1000;
    const { report: r, triggers } = outcome;
    const chosen = r.flagged ?? r.l1.indexOf(Math.min(...r.l1));
    const report = {
      command: 'detect',
      model: loaded.source,
      clean: { data: cleanPath, share, images: clean.n, of: all },
      backend: tf.getBackend(),
      seed,
      budget: { epochsPerClass: cfg.detection.epochs, maxSteps: cfg.detection.maxSteps, batchSize: batch, lambda: cfg.inversion.lambda, lr: cfg.detection.lr ?? cfg.inversion.lr },
      threshold: r.threshold,
      scale: r.scale,
      median: r.median,
      mad: r.mad,
      flagged: r.flagged,
      flaggedAll: r.flaggedAll,
      flaggedName: r.flagged === null ? null : (names[r.flagged] ?? String(r.flagged)),
      manifestTarget: manifest?.target ?? null,
      classes: triggers.map((t, c) => ({ cls: c, name: names[c] ?? String(c), maskL1: t.maskL1, anomaly: r.anomaly[c], attackRate: t.attackRate, epochs: t.epochs, steps: t.steps, mask: maskStats(t) })),
      seconds,
    };
    if (values.out) {
      const out = new StagedOutput(values.out);
      try {
        out.write('report.json', JSON.stringify(report, null, 2));
        out.write('trigger.json', triggerJson(triggers[chosen]));
        out.commit();
      } finally {
        out.discard();
      }
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return;
    }
    console.log(`model   ${loaded.source} (${loaded.format}), ${numClasses} classes`);
    console.log(`clean   ${cleanPath}: ${clean.n} images; ${cfg.detection.epochs} inversion epochs per class${cfg.detection.maxSteps ? ` (at most ${cfg.detection.maxSteps} steps)` : ''}, Adam lr ${report.budget.lr}`);
    console.log('');
    console.log('class                mask L1   anomaly   attack rate');
    for (const c of report.classes) {
      const mark = r.flaggedAll.includes(c.cls) ? '  <- flagged' : '';
      console.log(`${String(c.cls).padStart(3)} ${c.name.padEnd(14).slice(0, 14)} ${c.maskL1.toFixed(2).padStart(9)} ${c.anomaly.toFixed(2).padStart(9)} ${(100 * c.attackRate).toFixed(1).padStart(11)}%${mark}`);
    }
    console.log('');
    if (r.scale === 'log') console.log(`on the log scale: median log L1 ${r.median.toFixed(3)} (L1 ${Math.exp(r.median).toFixed(2)}), MAD ${r.mad.toFixed(3)}, threshold ${r.threshold}`);
    else console.log(`median L1 ${r.median.toFixed(2)}, MAD ${r.mad.toFixed(2)}, threshold ${r.threshold}`);
    if (r.flagged === null) {
      console.log('verdict: no class flagged; the model looks clean at this budget');
    } else {
      const known = manifest?.target !== undefined ? ` (the manifest's target is ${manifest.target})` : '';
      console.log(`verdict: backdoor suspected, target class ${r.flagged} "${report.flaggedName}" (anomaly index ${r.anomaly[r.flagged].toFixed(2)})${known}`);
    }
    console.log(`time    ${seconds.toFixed(1)} s on ${tf.getBackend()}`);
    if (values.out) console.log(`wrote   ${path.join(values.out, 'report.json')}, trigger.json (class ${chosen})`);
  } finally {
    model.dispose();
  }
}
