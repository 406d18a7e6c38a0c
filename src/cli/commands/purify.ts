/** `mcldef purify`: runs a defense (MCLDef, MCLDef+, FT, NC, NAD) on a model and writes the purified model. */
import * as tf from '@tensorflow/tfjs';
import { poisonTestSet } from '../../engine/attacks/poison';
import { DEFENSE_METHODS, type DefenseConfigInput, type DefenseMethod, fillConfig, needsTrigger, resolveConfig } from '../../engine/defense/config';
import { PRESET_NAMES, presetConfig, PRESETS } from '../../engine/defense/presets';
import type { DefenseEvent, DefenseStage, EvalPoint, InvertedTrigger } from '../../engine/defense/events';
import { driveDefense, runDefense } from '../../engine/defense/run';
import { type BackdoorEval, evaluateBackdoor } from '../../engine/metrics';
import { attackFromName, loadDataArg } from '../../platform/node/data';
import { manifestTriggerFile } from '../../platform/node/triggerArg';
import { loadModel, type ModelManifest, stageModel } from '../../platform/node/modelFiles';
import { prepareOutDir, removeCreated, StagedOutput } from '../../platform/node/safeFs';
import { withSigint } from '../interrupt';
import { maskStats, readInvertedTrigger, triggerJson } from '../triggerFile';
import { defenseWarnings } from '../../engine/defense/verdict';
import { ATTACK_OPTIONS, choiceOption, CLEAN_OPTIONS, cleanOptions, intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelLoadOptions, numOption, parse, required, UsageError } from '../args';
import { ProgressBar } from '../progress';
import { checkFits, loadCleanData, modelFit } from './cleanData';

export const purifyHelp = `mcldef purify --model DIR --clean DATA --test DATA --out DIR [--method NAME] [--target N | --detect] [options]

  Removes a backdoor: stage 1 inverts the trigger (Neural Cleanse), stage 2 purifies by model-contrastive
  learning (MCLDef), or runs a baseline. Writes the purified model (TensorFlow.js), report.json, trigger.json.
  --model      folder with model.json, or a PyTorch checkpoint (.pth/.pt) or .safetensors state_dict of a
               WRN-d-k, ResNet-18 or PreAct-ResNet-18 (or a folder holding one)
  --clean      the defender's clean data: image folder or .zip (<class>/<image> or labels.csv; resized to the
               model), .mcld shard, or cifar10:train
  --test       evaluation data (BA / ASR before, during and after): image folder, shard, or cifar10:test
  --out        output folder (created)
  --method     mcldef | mcldef+ | ft | nc | nad   (default mcldef)
  --preset     paper | quick   (default paper: the paper's settings; quick: the page's class demo, about
               1,000 clean images, inversion until converged, 2 purification epochs); options below override it
  --target     the backdoor's target class (default: the model manifest's)
  --detect     find the target with Neural Cleanse detection instead (inverts every class)
  --attack     badnets | trojan | blend | sig | cl | none: the true attack, to measure the true ASR
               (default: the manifest's); its target is --target, else the manifest's, else 5
  --trigger    the attack's trigger file: Trojan patch .npz (default: the shared trojan_square_cifar10.npz), an
               RGBA PNG for --attack mask (alpha is the mask), a JSON {"delta", "frequency"} for --attack sig
  --attack-target N  the true attack's target, for the true ASR only (the defense is not told: with --detect it
               must find the target itself)
  --clean-share F   use a class-balanced share F in (0, 1] of --clean (0.05 = the paper's 5% of CIFAR-10 train;
                    default: all of it, or the quick preset's 1,000 images)
  --epochs N        purification epochs (paper 20)        --inv-epochs N   inversion epochs (paper 100)
  --lr X            purification's epoch-0 learning rate; later epochs keep the preset's ratios (paper 0.1)
  --det-epochs N    detection epochs per class (default 10)   --det-lr X   detection's Adam lr (default 0.005)
  --det-scale linear|log   detection's anomaly index on mask L1 norms (default) or their logarithms
  --batch N         batch size of both stages (paper 64)  --max-steps N    cap on steps per epoch (default none)
  --eval-size N     test images measured after each epoch (paper 1000; 0: all); before and after the run
                    the whole --test set is measured
  --seed S          seed of every random choice (default 0)
  --inverted FILE   skip stage 1: use the trigger.json of an earlier run (or a bench:table trigger) for this model
  --augment on|off  random crop (4-pixel padding) + flip of the clean batches in every training stage (default on,
                    as DESIGN states the paper's recipe; the authors' public code trains stage 2 without it)
  --bn train|frozen BatchNorm of the purified model in MCLDef's stages 2-3 (default train, as the paper's code)
  --keep-target on|off  keep the target class in stage 2 (our extension: the target class's images keep only the
                    positive pair, and a label anchor holds every triggered image to its true label; default: the
                    preset's, off for paper, on for quick)
  --anchor X        weight of that label anchor (default: the preset's)
  --json            print report.json on stdout
${MODEL_OPTIONS_HELP}`;

/** Steps a stage will take at most, for the progress bar. */
export function stageTotal(stage: DefenseStage, cfg: ReturnType<typeof resolveConfig>, nClean: number, numClasses: number): number {
  const perEpoch = (b: number) => (cfg.maxStepsPerEpoch > 0 ? Math.min(cfg.maxStepsPerEpoch, Math.ceil(nClean / b)) : Math.ceil(nClean / b));
  const inv = (epochs: number, maxSteps: number) => {
    const n = epochs * Math.ceil(nClean / cfg.inversion.batchSize);
    return maxSteps > 0 ? Math.min(n, maxSteps) : n;
  };
  if (stage === 'invert') return inv(cfg.inversion.epochs, cfg.inversion.maxSteps);
  if (stage === 'detect') return numClasses * inv(cfg.detection.epochs, cfg.detection.maxSteps);
  if (stage === 'teacher') return cfg.nad.teacherEpochs * perEpoch(cfg.batchSize);
  if (stage === 'correct') return cfg.plus.epochs * perEpoch(cfg.batchSize);
  if (stage === 'purify') return cfg.epochs * perEpoch(cfg.batchSize);
  return 0;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '-' : (v * 100).toFixed(2) + '%');

/** The options of `mcldef purify`. */
function parsePurifyArgs(argv: string[]) {
  return parse(argv, {
    ...MODEL_OPTIONS,
    ...CLEAN_OPTIONS,
    ...ATTACK_OPTIONS,
    model: { type: 'string' },
    test: { type: 'string' },
    out: { type: 'string' },
    method: { type: 'string' },
    preset: { type: 'string' },
    detect: { type: 'boolean' },
    epochs: { type: 'string' },
    'inv-epochs': { type: 'string' },
    'det-epochs': { type: 'string' },
    'det-lr': { type: 'string' },
    'det-scale': { type: 'string' },
    'max-steps': { type: 'string' },
    'eval-size': { type: 'string' },
    inverted: { type: 'string' },
    bn: { type: 'string' },
    augment: { type: 'string' },
    'keep-target': { type: 'string' },
    'attack-target': { type: 'string' },
    lr: { type: 'string' },
    anchor: { type: 'string' },
    json: { type: 'boolean' },
  });
}

/** Runs `mcldef purify`: --out is checked (and created) first; the outputs appear only when the whole run succeeded. */
export async function runPurify(argv: string[]): Promise<void> {
  const { values } = parsePurifyArgs(argv);
  const modelPath = required(values.model, 'model');
  const testPath = required(values.test, 'test');
  const outDir = required(values.out, 'out');
  const method = (values.method ?? 'mcldef') as DefenseMethod;
  if (!DEFENSE_METHODS.includes(method)) throw new UsageError(`--method must be one of ${DEFENSE_METHODS.join(', ')}, got "${values.method}"`);
  if (values.detect && values.target !== undefined) throw new UsageError('give either --target or --detect, not both');
  const { cleanPath, share, seed, batch: batchOption } = cleanOptions(values);
  // --batch when given, else the preset's own batch sizes (purifyInto reads them).
  const batch = values.batch === undefined ? undefined : batchOption;
  choiceOption(values.preset, 'preset', PRESET_NAMES, 'paper'); // a bad --preset is refused before any work

  const created = prepareOutDir(outDir);
  const out = new StagedOutput(outDir);
  try {
    await purifyInto(values, { modelPath, cleanPath, testPath, outDir, method, seed, share, batch }, out);
    out.commit();
  } catch (e) {
    out.discard();
    removeCreated(created);
    throw e;
  }
}

type PurifyValues = ReturnType<typeof parsePurifyArgs>['values'];

/** Loads, runs and stages every output of `mcldef purify` in `out` (committed by the caller). */
async function purifyInto(
  values: PurifyValues,
  a: { modelPath: string; cleanPath: string; testPath: string; outDir: string; method: DefenseMethod; seed: number; share: number; batch: number | undefined },
  out: StagedOutput,
): Promise<void> {
  const { modelPath, cleanPath, testPath, outDir, method, seed, share, batch } = a;
  const preset = PRESETS[choiceOption(values.preset, 'preset', PRESET_NAMES, 'paper')];
  // The preset's values are the defaults of the options below.
  const pre = fillConfig(presetConfig(preset.name));
  const loaded = await loadModel(modelPath, modelLoadOptions(values));
  const { model, manifest } = loaded;
  try {
    const fit = modelFit(model, manifest?.classNames, values.classes);
    const { numClasses } = fit;
    const preInverted = values.inverted ? readInvertedTrigger(values.inverted, { ...fit, channels: model.inputs[0].shape[3] as number }) : undefined;
    const given = values.target !== undefined ? intOption(values.target, 'target', 0, 0, numClasses - 1) : undefined;
    const target = given ?? (values.detect ? undefined : preInverted?.target ?? manifest?.target);
    if (needsTrigger(method) && target === undefined && !values.detect) {
      throw new UsageError(`--method ${method} needs the target class: give --target N (or --detect), or use a model whose manifest names it`);
    }
    if (target !== undefined && (target < 0 || target >= numClasses)) throw new UsageError(`target ${target} is not a class of this ${numClasses}-class model`);
    const attackName = values.attack ?? manifest?.attack?.name ?? 'none';
    // --attack-target: the true attack's target kept from the defense (a --detect run measured against the truth).
    const trueTarget = values['attack-target'] !== undefined ? intOption(values['attack-target'], 'attack-target', 0, 0, numClasses - 1) : (given ?? manifest?.target ?? 5);

    const cleanCount = values['clean-share'] === undefined ? preset.cleanImages : 0;
    const { clean, all: cleanAll } = await loadCleanData(cleanPath, fit, share, seed, cleanCount);
    const test = await loadDataArg(testPath, fit);
    checkFits(test, fit, '--test');
    if (trueTarget >= numClasses && attackName !== 'none') throw new UsageError(`the attack's target ${trueTarget} is not a class of this model`);
    // A planted model's drawn trigger travels beside it (manifest attack.file), used when the manifest's attack is.
    const triggerFile = values.trigger ?? (values.attack === undefined ? manifestTriggerFile(modelPath, manifest) : undefined);
    const attack = attackName === 'none' ? null : await attackFromName(attackName, triggerFile);
    const stamped = attack ? poisonTestSet(test, attack, trueTarget) : undefined;

    const input: DefenseConfigInput = presetConfig(preset.name, {
      method,
      target,
      detect: Boolean(values.detect),
      seed,
      batchSize: batch ?? pre.batchSize,
      epochs: intOption(values.epochs, 'epochs', pre.epochs, 0),
      // --lr: epoch 0's rate, the preset's later steps scaled with it (as the page's learning-rate field).
      lr: values.lr === undefined ? pre.lr : { milestones: pre.lr.milestones, values: pre.lr.values.map((v) => (v * numOption(values.lr, 'lr', 0.1, 1e-6, 10)) / pre.lr.values[0]) },
      maxStepsPerEpoch: intOption(values['max-steps'], 'max-steps', 0, 0),
      inversion: { epochs: intOption(values['inv-epochs'], 'inv-epochs', pre.inversion.epochs, 1), batchSize: batch ?? pre.inversion.batchSize, snapshotEvery: 0 },
      detection: {
        epochs: intOption(values['det-epochs'], 'det-epochs', 10, 1),
        lr: values['det-lr'] === undefined ? null : numOption(values['det-lr'], 'det-lr', 0.005, 1e-6, 10),
        scale: choiceOption(values['det-scale'], 'det-scale', ['linear', 'log'] as const, 'linear'),
      },
      evalSize: intOption(values['eval-size'], 'eval-size', pre.evalSize, 0),
      // The CLI measures the whole --test set itself before and after (evalFull): the run's own before/after
      // stay on the per-epoch subset instead of measuring the whole set a second time.
      evalFinalSize: null,
      // Probe features (the config's default probes per class, from --test) feed the merge figure in report.json.
    });
    input.purifyBn = choiceOption(values.bn, 'bn', ['train', 'frozen'] as const, 'train');
    input.keepTarget = choiceOption(values['keep-target'], 'keep-target', ['on', 'off'] as const, pre.keepTarget ? 'on' : 'off') === 'on';
    input.anchor = numOption(values.anchor, 'anchor', pre.anchor, 0, 100);
    if (choiceOption(values.augment, 'augment', ['on', 'off'] as const, 'on') === 'off') input.augment = { padding: 0, flip: false };
    const cfg = resolveConfig(input);

    const evalFull = async (label: string, m: tf.LayersModel): Promise<BackdoorEval> => {
      const bar = new ProgressBar(label, 'img');
      return evaluateBackdoor(m, test, stamped ?? null, trueTarget, { batchSize: 256, numClasses, onProgress: (d, t) => bar.update(d, t) });
    };
    const before = await evalFull('eval before', model);

    let bar: ProgressBar | null = null;
    let barTotal = 0;
    let barDone = 0;
    const epochs: unknown[] = [];
    const onEvent = (e: DefenseEvent): void => {
      if (e.type === 'stage') {
        if (e.phase === 'start') {
          barTotal = stageTotal(e.stage, cfg, clean.n, numClasses);
          barDone = 0;
          bar = barTotal > 0 ? new ProgressBar(e.label, 'step') : null;
        } else {
          if (process.stderr.isTTY && bar && barDone < barTotal) process.stderr.write('\n');
          process.stderr.write(`${e.label}: ${(e.seconds ?? 0).toFixed(1)} s\n`);
          bar = null;
        }
      } else if (e.type === 'inversion-step') {
        barDone++;
        bar?.update(barDone, barTotal, `class ${e.target} loss ${e.loss.toFixed(3)} L1 ${e.maskL1.toFixed(1)} attack ${pct(e.attackRate)}`);
      } else if (e.type === 'purify-step') {
        barDone++;
        bar?.update(barDone, barTotal, `epoch ${e.epoch} lr ${e.lr} loss ${e.loss.toFixed(4)}`);
      } else if (e.type === 'purify-epoch') {
        const { type: _t, ...rest } = e;
        epochs.push(rest);
        if (e.ba !== null) process.stderr.write(`  ${e.stage} epoch ${e.epoch}: loss ${e.loss.toFixed(4)} BA ${pct(e.ba)} ASR ${pct(e.asrTrue)} ASR(inverted) ${pct(e.asrInverted)} (${e.nClean} test images)${e.merge ? ` merge: isolated ${pct(e.merge.isolated)} own ${pct(e.merge.own)} target ${pct(e.merge.target)}` : ''}\n`);
      } else if (e.type === 'detection-result') {
        process.stderr.write(`  detection: L1 ${e.l1.map((v) => v.toFixed(1)).join(' ')}; flagged ${e.flagged ?? 'none'}\n`);
      } else if (e.type === 'notice') {
        process.stderr.write(`note: ${e.message}\n`);
      }
    };
    // yieldEvery 1: a macrotask between steps, so Ctrl-C (delivered by the event loop) reaches the signal.
    const result = await withSigint((signal) =>
      driveDefense(runDefense(cfg, { model, clean, evalSet: test, trueTrigger: stamped, trueTarget: attack ? trueTarget : undefined, signal, yieldEvery: 1, trigger: preInverted, classNames: test.classNames }), onEvent),
    );
    const purified = result.model;
    try {
      const after = await evalFull('eval after', purified);
      await stageModel(purified, out);
      const { summary, trigger } = result;
      const outManifest: ModelManifest = { ...(manifest ?? { classNames: [...test.classNames] }), defense: { method, target: summary.target, seed, from: loaded.source } };
      out.write('manifest.json', JSON.stringify(outManifest, null, 2));
      if (trigger) out.write('trigger.json', triggerJson(trigger));
      const point = (r: BackdoorEval) => ({
        ba: r.ba,
        asr: attack ? r.asr : null,
        nClean: r.nClean,
        nAsr: r.nAsr,
        perClass: Object.fromEntries(test.classNames.map((c, i) => [c, r.perClass[i]])),
      });
      // The warnings again from the whole --test set (the run's own are from its per-epoch subset).
      const asPoint = (r: BackdoorEval, run: EvalPoint | null): EvalPoint => ({ ba: r.ba, asrTrue: attack ? r.asr : null, asrInverted: run?.asrInverted ?? null, nClean: r.nClean, nAsr: r.nAsr, perClass: r.perClass });
      const warnings = defenseWarnings({
        before: asPoint(before, summary.before),
        after: asPoint(after, summary.after),
        target: summary.target,
        targetName: summary.target !== null ? test.classNames[summary.target] : undefined,
        mask: trigger ? { values: trigger.mask, height: trigger.height, width: trigger.width } : null,
      });
      const report = {
        command: 'purify',
        model: loaded.source,
        preset: preset.name,
        clean: { data: cleanPath, share: clean.n / cleanAll, images: clean.n, of: cleanAll },
        test: { data: testPath, images: test.n },
        backend: tf.getBackend(),
        method,
        attack: attackName,
        attackTarget: attack ? trueTarget : null,
        config: summary.config,
        target: summary.target,
        detection: summary.detection,
        inversion: trigger ? { ...summary.inversion, mask: maskStats(trigger) } : null,
        before: point(before),
        after: point(after),
        subsetEval: { before: summary.before, after: summary.after },
        // Merge figure (engine/defense/merge.ts): share of triggered probes whose 10 nearest probes (cosine, 64-d
        // features) are mostly triggered, whose 10 nearest clean probes are mostly of their own class / the target,
        // and the clean probes' own share; per epoch in `epochs`.
        merge: { before: summary.before?.merge ?? null, after: summary.after?.merge ?? null },
        epochs,
        timings: summary.timings,
        totalSeconds: summary.totalSeconds,
        warnings,
      };
      out.write('report.json', JSON.stringify(report, null, 2));
      if (values.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        console.log(`model    ${loaded.source} -> ${outDir}`);
        console.log(`preset   ${preset.name} (${preset.title})`);
        console.log(`method   ${method}${summary.target !== null ? `, target ${summary.target} "${test.classNames[summary.target] ?? summary.target}"` : ''}; clean ${clean.n} images`);
        if (trigger) console.log(`trigger  mask L1 ${trigger.maskL1.toFixed(2)}, attack rate ${pct(trigger.attackRate)}, ${trigger.epochs} epochs, ${trigger.steps} steps${trigger.converged ? ' (converged)' : trigger.stoppedEarly ? ' (early stop)' : ''}`);
        console.log(`before   BA ${pct(before.ba)}  ASR ${attack ? pct(before.asr) : '-'}`);
        console.log(`after    BA ${pct(after.ba)}  ASR ${attack ? pct(after.asr) : '-'}  (${attackName}, ${test.n} test images)`);
        const mb = summary.before?.merge;
        const ma = summary.after?.merge;
        if (mb && ma) console.log(`merge    triggered probes in their own cluster ${pct(mb.isolated)} -> ${pct(ma.isolated)}; among clean probes mostly own class ${pct(mb.own)} -> ${pct(ma.own)}, target ${pct(mb.target)} -> ${pct(ma.target)} (clean probes ${pct(mb.clean)} -> ${pct(ma.clean)}; ${ma.k}-NN cosine on ${ma.nTriggered} triggered / ${ma.nClean} clean probes)`);
        const delta = (i: number) => 100 * (after.perClass[i] - before.perClass[i]);
        console.log(`per class ${test.classNames.map((c, i) => `${c} ${pct(after.perClass[i])} (${delta(i) >= 0 ? '+' : ''}${delta(i).toFixed(1)})`).join(', ')}`);
        for (const w of warnings) console.log(`warning  ${w.message}`);
        console.log(`time     ${summary.timings.map((t) => `${t.stage} ${t.seconds.toFixed(1)} s${t.imagesPerSecond ? ` (${t.imagesPerSecond.toFixed(0)} img/s)` : ''}`).join(', ')} on ${tf.getBackend()}`);
      }
    } finally {
      purified.dispose();
    }
  } finally {
    model.dispose();
  }
}
