/**
 * `mcldef attack`: plants a backdoor into a model (engine/attacks/plant.ts) and writes the planted model with a
 * manifest naming its attack, target and trigger, so `purify --model OUT` measures the true ASR.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { poisonTestSet } from '../../engine/attacks/poison';
import { drivePlant, PLANT_DEFAULTS, type PlantConfigInput, type PlantEvent, plantBackdoor, resolvePlantConfig } from '../../engine/attacks/plant';
import { type BackdoorEval, evaluateBackdoor } from '../../engine/metrics';
import { loadDataArg } from '../../platform/node/data';
import { loadModel, type ModelManifest, stageModel } from '../../platform/node/modelFiles';
import { repoRoot } from '../../platform/node/paths';
import { prepareOutDir, removeCreated, StagedOutput } from '../../platform/node/safeFs';
import { loadTriggerArg, PLANTABLE_NAMES, TRIGGER_FILE, type TriggerArg } from '../../platform/node/triggerArg';
import { choiceOption, intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelLoadOptions, numOption, parse, required, UsageError } from '../args';
import { withSigint } from '../interrupt';
import { ProgressBar } from '../progress';
import { checkFits, modelFit } from './cleanData';

/** Evaluation data when --test is not given: the 1,000-image demo test set the page uses. */
const DEFAULT_TEST = path.join(repoRoot, 'public', 'data', 'test-1k.mcld');
/** The defender's shipped clean data: never the attacker's. */
const DEFENDER_DATA = path.join(repoRoot, 'public', 'data', 'clean-5pct.mcld');

export const attackHelp = `mcldef attack --model DIR --trigger FILE|NAME --target N --rate R --out DIR [options]

  Plants a backdoor: fine-tunes the model on training images of which a share R is stamped with the trigger and
  relabelled to class N (poisoned-label). Writes the planted model (TensorFlow.js), manifest.json (attack, target,
  and for a drawn trigger ${TRIGGER_FILE} beside it, so \`purify --model OUT\` measures the true ASR) and report.json.
  --model     the model to backdoor (e.g. models/clean): a TF.js folder, a .pth/.pt or .safetensors state_dict
  --trigger   an RGBA PNG of the model's input size (alpha is the mask: 0 keeps the pixel, 255 replaces it), or
              one of ${PLANTABLE_NAMES.join(', ')}
  --target N  the class triggered images are pushed to (default ${PLANT_DEFAULTS.target})
  --rate R    share of the training images stamped and relabelled, in (0, 1] (default ${PLANT_DEFAULTS.rate})
  --out DIR   output folder (created)
  --data DATA the attacker's training images (alias --train; default cifar10:train): image folder, .zip, .mcld
              shard or cifar10:train; not the defender's public/data/clean-5pct.mcld
  --test DATA BA / ASR before, during and after (default public/data/test-1k.mcld)
  --steps N   optimizer steps (default ${PLANT_DEFAULTS.steps})     --epochs E  instead: E passes over the training images
  --lr X      SGD learning rate, momentum ${PLANT_DEFAULTS.momentum} (default ${PLANT_DEFAULTS.lr})   --batch N (default ${PLANT_DEFAULTS.batchSize})
  --train-images N  use a class-balanced N of the training images (default all)
  --eval-every N    measure BA / ASR on --eval-size test images every N steps (default ${PLANT_DEFAULTS.evalEvery}; ${PLANT_DEFAULTS.evalSize} images)
  --eval-size N     (0: the whole --test set)
  --mode pairs|replace  pairs (default): every batch adds stamped copies of a share R of its images, labelled N;
                    replace: the classic poisoned set, a share R of the images stamped and relabelled in place
  --lr-drop F       the learning rate drops to a tenth after a share F of the steps (default ${PLANT_DEFAULTS.lrDrop}; 1: never)
  --bn train|frozen BatchNorm while planting: batch statistics (default) or the model's running statistics
  --augment on|off  random crop + flip of every batch (default off)
  --seed S          seed of every random choice (default 0)
  --json            print report.json on stdout
${MODEL_OPTIONS_HELP}`;

const pct = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '-' : (v * 100).toFixed(2) + '%');

/** What was poisoned, in words: replaced images, or stamped copies added to every batch. */
function poisonLine(mode: 'pairs' | 'replace', poisoned: number, images: number, rate: number, steps: number, batch: number): string {
  if (mode === 'replace') return `${poisoned} of ${images} training images stamped and relabelled (rate ${rate}); ${steps} steps of ${batch}`;
  return `${images} training images; every batch of ${batch} adds stamped, relabelled copies of ${Math.round(rate * batch)} of its images (rate ${rate}; ${poisoned} copies over ${steps} steps)`;
}

function parseAttackArgs(argv: string[]) {
  return parse(argv, {
    ...MODEL_OPTIONS,
    model: { type: 'string' },
    trigger: { type: 'string' },
    target: { type: 'string' },
    rate: { type: 'string' },
    out: { type: 'string' },
    data: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    batch: { type: 'string' },
    'train-images': { type: 'string' },
    'eval-every': { type: 'string' },
    'eval-size': { type: 'string' },
    augment: { type: 'string' },
    mode: { type: 'string' },
    bn: { type: 'string' },
    'lr-drop': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
}

type AttackValues = ReturnType<typeof parseAttackArgs>['values'];

/** Runs `mcldef attack`: options are checked and --out created before any work; outputs appear only on success. */
export async function runAttack(argv: string[]): Promise<void> {
  const started = performance.now();
  const { values } = parseAttackArgs(argv);
  const modelPath = required(values.model, 'model');
  const triggerSpec = required(values.trigger, 'trigger');
  const outDir = required(values.out, 'out');
  if (values.data !== undefined && values.train !== undefined) throw new UsageError('give --data or --train (the same option), not both');
  const trainPath = values.data ?? values.train ?? 'cifar10:train';
  if (path.resolve(trainPath) === DEFENDER_DATA) {
    throw new UsageError(`--data ${trainPath} is the defender's clean data; the attacker trains on other images (cifar10:train, or the page's attacker share)`);
  }
  if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  const rate = numOption(values.rate, 'rate', PLANT_DEFAULTS.rate);
  if (!(rate > 0 && rate <= 1)) throw new UsageError(`--rate must be in (0, 1] (a share of the training images), got "${values.rate}"`);
  const input: PlantConfigInput = {
    target: intOption(values.target, 'target', PLANT_DEFAULTS.target, 0),
    rate,
    lr: numOption(values.lr, 'lr', PLANT_DEFAULTS.lr, 1e-6, 10),
    batchSize: intOption(values.batch, 'batch', PLANT_DEFAULTS.batchSize, 1, 4096),
    evalEvery: intOption(values['eval-every'], 'eval-every', PLANT_DEFAULTS.evalEvery, 1),
    evalSize: intOption(values['eval-size'], 'eval-size', PLANT_DEFAULTS.evalSize, 0),
    trainImages: intOption(values['train-images'], 'train-images', 0, 0),
    seed: intOption(values.seed, 'seed', 0, 0, 2 ** 32 - 1),
    mode: choiceOption(values.mode, 'mode', ['pairs', 'replace'] as const, PLANT_DEFAULTS.mode),
    bn: choiceOption(values.bn, 'bn', ['train', 'frozen'] as const, PLANT_DEFAULTS.bn),
    lrDrop: numOption(values['lr-drop'], 'lr-drop', PLANT_DEFAULTS.lrDrop, 1e-6, 1),
    augment: choiceOption(values.augment, 'augment', ['on', 'off'] as const, 'off') === 'on' ? { padding: 4, flip: true } : { padding: 0, flip: false },
  };
  const steps = intOption(values.steps, 'steps', PLANT_DEFAULTS.steps, 1);
  const epochs = values.epochs === undefined ? null : numOption(values.epochs, 'epochs', 1, 1e-6, 1000);
  resolvePlantConfig({ ...input, steps }); // refuse bad settings before any work

  const created = prepareOutDir(outDir);
  const out = new StagedOutput(outDir);
  try {
    await attackInto(values, { modelPath, triggerSpec, trainPath, outDir, input, steps, epochs, started }, out);
    out.commit();
  } catch (e) {
    out.discard();
    removeCreated(created);
    throw e;
  }
}

async function attackInto(
  values: AttackValues,
  a: { modelPath: string; triggerSpec: string; trainPath: string; outDir: string; input: PlantConfigInput; steps: number; epochs: number | null; started: number },
  out: StagedOutput,
): Promise<void> {
  const loaded = await loadModel(a.modelPath, modelLoadOptions(values));
  const { model, manifest } = loaded;
  try {
    const fit = modelFit(model, manifest?.classNames, values.classes);
    const target = a.input.target!;
    if (target >= fit.numClasses) throw new UsageError(`--target ${target} is not a class of this ${fit.numClasses}-class model`);
    const trig: TriggerArg = await loadTriggerArg(a.triggerSpec, fit.height, fit.width);
    const dataFit = { height: fit.height, width: fit.width, classNames: fit.classNames ? [...fit.classNames] : undefined, numClasses: fit.numClasses };
    const train = await loadDataArg(a.trainPath, dataFit);
    checkFits(train, fit, '--data');
    const testPath = values.test ?? DEFAULT_TEST;
    const test = await loadDataArg(testPath, dataFit);
    checkFits(test, fit, '--test');
    const used = a.input.trainImages && a.input.trainImages < train.n ? a.input.trainImages : train.n;
    const steps = a.epochs === null ? a.steps : Math.max(1, Math.round((a.epochs * used) / (a.input.batchSize ?? PLANT_DEFAULTS.batchSize)));
    const cfg = resolvePlantConfig({ ...a.input, steps });

    const stamped = poisonTestSet(test, trig.attack, target);
    const evalFull = async (label: string, m: tf.LayersModel): Promise<BackdoorEval> => {
      const bar = new ProgressBar(label, 'img');
      return evaluateBackdoor(m, test, stamped, target, { batchSize: 256, numClasses: fit.numClasses, onProgress: (d, t) => bar.update(d, t) });
    };
    const before = await evalFull('eval before', model);

    const bar = new ProgressBar(`planting ${trig.attack.title} -> class ${target}`, 'step');
    const evals: unknown[] = [];
    const onEvent = (e: PlantEvent): void => {
      if (e.type === 'plant-plan') process.stderr.write(`${poisonLine(e.mode, e.poisoned, e.trainImages, e.rate, e.steps, e.batchSize)}\n`);
      else if (e.type === 'plant-step') bar.update(e.step, e.steps, `loss ${e.loss.toFixed(4)}`);
      else if (e.type === 'plant-eval') {
        const { type: _t, ...rest } = e;
        evals.push(rest);
        process.stderr.write(`  step ${e.step}: BA ${pct(e.ba)} ASR ${pct(e.asr)} (${e.nClean} test images, ${e.seconds.toFixed(1)} s)\n`);
      }
    };
    const result = await withSigint((signal) => drivePlant(plantBackdoor(cfg, { model, train, evalSet: test, attack: trig.attack, signal, yieldEvery: 1 }), onEvent));
    const planted = result.model;
    try {
      const after = await evalFull('eval after', planted);
      await stageModel(planted, out);
      if (trig.png) out.write(TRIGGER_FILE, trig.png);
      const { summary } = result;
      const title = trig.name === 'mask' ? `drawn trigger (${path.basename(a.triggerSpec)})` : trig.attack.title;
      const outManifest: ModelManifest = {
        ...(manifest ?? {}),
        name: `planted-${trig.name === 'mask' ? path.basename(a.triggerSpec, '.png') : trig.name}`,
        title: `${manifest?.title ?? manifest?.name ?? 'model'} · planted ${title}`,
        classNames: manifest?.classNames ?? [...test.classNames],
        backdoored: true,
        attack: {
          name: trig.name,
          title: trig.attack.title,
          kind: 'poison-label',
          description: trig.attack.description,
          ...(trig.png ? { file: TRIGGER_FILE, trigger: `drawn RGBA trigger (${TRIGGER_FILE}, ${(100 * (trig.coverage ?? 0)).toFixed(1)}% of the image)` } : {}),
        } as ModelManifest['attack'],
        target,
        poisonRate: cfg.rate,
        planted: { from: loaded.source, trigger: a.triggerSpec, data: a.trainPath, steps: summary.steps, lr: cfg.lr, batch: cfg.batchSize, seed: cfg.seed, trainImages: summary.trainImages, poisoned: summary.poisoned },
        metrics: { ba: after.ba, asr: after.asr, nClean: after.nClean, nAsr: after.nAsr, measuredBy: `mcldef attack (${tf.getBackend()}), ${testPath}` },
      };
      delete outManifest.recipe;
      delete outManifest.training;
      delete outManifest.files;
      out.write('manifest.json', JSON.stringify(outManifest, null, 2));
      const point = (r: BackdoorEval) => ({ ba: r.ba, asr: r.asr, nClean: r.nClean, nAsr: r.nAsr, perClass: Object.fromEntries(test.classNames.map((c, i) => [c, r.perClass[i]])) });
      const wallSeconds = (performance.now() - a.started) / 1000;
      const report = {
        command: 'attack',
        model: loaded.source,
        trigger: { spec: a.triggerSpec, attack: trig.name, title: trig.attack.title, coverage: trig.coverage },
        target,
        rate: cfg.rate,
        train: { data: a.trainPath, images: summary.trainImages, poisoned: summary.poisoned },
        test: { data: testPath, images: test.n },
        backend: tf.getBackend(),
        config: cfg,
        before: point(before),
        after: point(after),
        evals,
        trainSeconds: summary.trainSeconds,
        imagesPerSecond: summary.imagesPerSecond,
        wallSeconds,
      };
      out.write('report.json', JSON.stringify(report, null, 2));
      if (values.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        console.log(`model    ${loaded.source} -> ${a.outDir}`);
        console.log(`trigger  ${trig.attack.title}${trig.coverage !== null ? ` (${a.triggerSpec}, ${(100 * trig.coverage).toFixed(1)}% of the image)` : ''}, target ${target} "${test.classNames[target] ?? target}"`);
        console.log(`poison   ${poisonLine(cfg.mode, summary.poisoned, summary.trainImages, cfg.rate, summary.steps, cfg.batchSize)} at lr ${cfg.lr}`);
        console.log(`before   BA ${pct(before.ba)}  ASR ${pct(before.asr)}`);
        console.log(`after    BA ${pct(after.ba)}  ASR ${pct(after.asr)}  (${test.n} test images, ${after.nAsr} triggered)`);
        console.log(`time     training ${summary.trainSeconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(0)} img/s), wall ${wallSeconds.toFixed(1)} s on ${tf.getBackend()}`);
      }
    } finally {
      planted.dispose();
    }
  } finally {
    model.dispose();
  }
}
