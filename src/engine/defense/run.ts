/**
 * The defense's one entry point: {@link runDefense}, an async generator of plain-data {@link DefenseEvent}s whose
 * return value ({@link DefenseResult}) holds the purified model. The browser worker, the CLI and the tests all
 * drive it; {@link driveDefense} does so with a callback.
 *
 * Order of a run: [detect] -> [invert] -> evaluate before (+ probe features, epoch -1) -> training stage(s)
 * (per-step and per-epoch events, probe features) -> evaluate after -> done.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset';
import { architectureOf, groupOutputs } from '../model/introspect';
import { modelFromArtifacts, modelToArtifacts } from '../model/io';
import { createRng } from '../random';
import { ftStageLoss, nadStageLoss, ncStageLoss, wrnGroupOutputs } from './baselines';
import { type DefenseConfig, type DefenseConfigInput, needsTrigger, resolveConfig } from './config';
import { type AbortSignalLike, DefenseAbortError, driveToEnd, isAbortError, RunControl } from './control';
import { detectTarget } from './detect';
import { detectByHalving } from './detectHalving';
import { evaluatePoint, makeEvalPlan, makeProbePlan, probeEvent, type ProbePlan, type TrueTrigger } from './evaluate';
import type { DefenseEvent, DefenseResult, DefenseStage, DetectionReport, EvalPoint, InvertedTrigger, StageTiming } from './events';
import { invertTrigger, TriggerTensors } from './invert';
import { mclStageLoss, positiveStageLoss } from './mcl';
import { planRun, planSizes } from './plan';
import { type StageLoss, trainStage } from './train';
import { defenseWarnings } from './verdict';

/** What a run works on. */
export interface DefenseDeps {
  /** The backdoored model, outputs [features, logits] (model/io withFeatureOutputs). Not modified or disposed. */
  model: tf.LayersModel;
  /** The defender's clean data (5% of the training set in the paper). */
  clean: Dataset;
  /** Test images for BA / ASR during the run and for the probe set. */
  evalSet?: Dataset;
  /** The true attack, when known (a transform, or poisonTestSet(evalSet, attack, trueTarget)), for the true ASR. */
  trueTrigger?: TrueTrigger;
  /** The true attack's target (default: the config's or the detected target). */
  trueTarget?: number;
  /** Checked between steps; once aborted the run throws a DefenseAbortError and frees everything. */
  signal?: AbortSignalLike;
  /** Yield to the event loop every this many steps (default 1; 0: never). */
  yieldEvery?: number;
  /**
   * A stage-1 trigger inverted earlier on this model (e.g. by another method's run): stage 1 is skipped and this
   * one used. Its target must equal the config's target when both are given; detection still runs when asked.
   */
  trigger?: InvertedTrigger;
  /** Class names, for the summary's warnings ("bird" rather than "class 2"). */
  classNames?: readonly string[];
}

/** A deep copy of a model (artifacts round trip): same topology, weights and BatchNorm statistics. */
export async function cloneModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  return modelFromArtifacts(await modelToArtifacts(model));
}

function checkDeps(deps: DefenseDeps, cfg: DefenseConfig): number {
  const { model, clean } = deps;
  if (model.outputs.length !== 2) throw new Error(`the defense needs a model with outputs [features, logits]; this one has ${model.outputs.length} (wrap it with withFeatureOutputs)`);
  const [, h, w, c] = model.inputs[0].shape;
  for (const [name, ds] of [['clean', clean], ['evaluation', deps.evalSet]] as const) {
    if (ds && (ds.height !== h || ds.width !== w || ds.channels !== c)) {
      throw new Error(`the ${name} images are ${ds.height}x${ds.width}x${ds.channels} but the model expects ${h}x${w}x${c}`);
    }
  }
  const numClasses = model.outputs[1].shape[1] as number;
  if (cfg.target !== undefined && cfg.target >= numClasses) throw new Error(`target ${cfg.target} is not a class of this ${numClasses}-class model`);
  if (deps.trueTarget !== undefined && (deps.trueTarget < 0 || deps.trueTarget >= numClasses)) throw new Error(`trueTarget ${deps.trueTarget} is not a class of this model`);
  const t = deps.trigger;
  if (t) {
    if (t.height !== h || t.width !== w || t.channels !== c) throw new Error(`the given trigger is ${t.height}x${t.width}x${t.channels} but the model expects ${h}x${w}x${c}`);
    if (t.target < 0 || t.target >= numClasses) throw new Error(`the given trigger targets class ${t.target}, not a class of this model`);
    if (cfg.target !== undefined && cfg.target !== t.target) throw new Error(`the given trigger targets class ${t.target} but the config's target is ${cfg.target}`);
  }
  return numClasses;
}

const STAGE_LABEL: Record<DefenseStage, string> = {
  evaluate: 'Evaluation of the backdoored model',
  detect: 'Neural Cleanse target detection',
  invert: 'Stage 1: trigger inversion',
  teacher: 'NAD teacher fine-tuning',
  purify: 'Purification',
  correct: 'MCLDef+ stage 3: positive-pair correction',
};
const STAGE_LABEL_AFTER = 'Evaluation of the purified model';

/**
 * Runs a defense. Events are plain data; the generator's return value holds the purified model (the caller owns
 * and disposes it). Deterministic for a seed on one backend. Stopping early (abort signal, or `return()` on the
 * generator) disposes every tensor the run made.
 * @throws DefenseAbortError (name 'AbortError') when `deps.signal` is aborted
 */
export async function* runDefense(configInput: DefenseConfigInput, deps: DefenseDeps): AsyncGenerator<DefenseEvent, DefenseResult, void> {
  // A given trigger names the target when the config does not.
  const cfg = resolveConfig(deps.trigger && configInput.target === undefined ? { ...configInput, target: deps.trigger.target } : configInput);
  const numClasses = checkDeps(deps, cfg);
  const { model, clean } = deps;
  const control = new RunControl(deps.signal, deps.yieldEvery ?? 1);
  const rng = createRng(cfg.seed);
  const runStart = Date.now();
  const timings: StageTiming[] = [];
  let purified: tf.LayersModel | null = null;
  let teacher: tf.LayersModel | null = null;
  let trig: TriggerTensors | null = null;
  let stageStart = 0;
  const begin = (stage: DefenseStage, epochs: number, label = STAGE_LABEL[stage], classes?: number): DefenseEvent => {
    stageStart = Date.now();
    return { type: 'stage', stage, phase: 'start', label, epochs, ...(classes !== undefined ? { classes } : {}) };
  };
  const end = (stage: DefenseStage, images = 0): DefenseEvent => {
    const seconds = (Date.now() - stageStart) / 1000;
    timings.push({ stage, seconds, images, imagesPerSecond: images > 0 ? images / Math.max(seconds, 1e-9) : 0 });
    return { type: 'stage', stage, phase: 'end', label: STAGE_LABEL[stage], seconds };
  };
  try {
    control.throwIfAborted();
    // What the run will do at most, before it starts.
    yield { type: 'plan', stages: planRun(cfg, planSizes(cfg, { clean: clean.n, evalImages: deps.evalSet?.n ?? 0, numClasses })) };
    const wantsTrigger = needsTrigger(cfg.method);
    let target: number | null = cfg.target ?? deps.trigger?.target ?? null;
    let detection: DetectionReport | null = null;
    let trigger: InvertedTrigger | null = wantsTrigger && deps.trigger ? deps.trigger : null;

    if (cfg.detect) {
      yield begin('detect', numClasses * cfg.detection.epochs, STAGE_LABEL.detect, numClasses);
      const detector = cfg.detection.procedure === 'halving' ? detectByHalving : detectTarget;
      const outcome = yield* detector(model, clean, numClasses, cfg.inversion, cfg.detection, rng.fork('detect'), control);
      detection = outcome.report;
      if (target === null) {
        if (detection.flagged !== null) {
          target = detection.flagged;
        } else if (wantsTrigger && cfg.detection.ifNoneFlagged === 'lowest-l1') {
          target = detection.l1.indexOf(Math.min(...detection.l1));
          yield { type: 'notice', message: `detection flagged no class; purifying against class ${target}, the one with the smallest mask` };
        } else {
          yield { type: 'notice', message: 'detection flagged no class: the model looks clean' + (wantsTrigger ? '; nothing to purify' : '') };
        }
      }
      // Reuse detection's trigger for the target when detection's budget was at least the full inversion's (same lr).
      const d = cfg.detection;
      const inv = cfg.inversion;
      const fullBudget = d.procedure === 'nc' && d.epochs >= inv.epochs && (d.maxSteps === 0 || (inv.maxSteps > 0 && d.maxSteps >= inv.maxSteps)) && (d.lr ?? inv.lr) === inv.lr;
      if (wantsTrigger && target !== null && fullBudget && !trigger) trigger = outcome.triggers[target];
      yield end('detect');
    }

    if (wantsTrigger && target !== null && !trigger) {
      yield begin('invert', cfg.inversion.epochs, `${STAGE_LABEL.invert} (class ${target})`);
      trigger = yield* invertTrigger(model, clean, target, cfg.inversion, rng.fork('invert'), control);
      yield end('invert', trigger.steps * Math.min(cfg.inversion.batchSize, clean.n));
    }
    if (trigger) trig = new TriggerTensors(trigger);
    const invTarget = trigger ? trigger.target : null;

    const trueTarget = deps.trueTarget ?? target;
    const plan = makeEvalPlan(deps.evalSet, cfg.evalSize, deps.trueTrigger, trueTarget, rng.fork('eval'));
    // Before and after on the result set (evalFinalSize), during training on the per-epoch subset. Both draw from
    // the same permutation, so the smaller set is part of the larger.
    const finalPlan = cfg.evalFinalSize === null || cfg.evalFinalSize === cfg.evalSize ? plan : makeEvalPlan(deps.evalSet, cfg.evalFinalSize, deps.trueTrigger, trueTarget, rng.fork('eval'));
    const probe: ProbePlan | null =
      cfg.probePerClass > 0 ? makeProbePlan(deps.evalSet ?? clean, cfg.probePerClass, deps.trueTrigger, trueTarget, invTarget, rng.fork('probe')) : null;
    // The latest merge figure rides on the evaluation point taken with it (before, per epoch, after).
    let lastMerge: EvalPoint['merge'] = null;

    yield begin('evaluate', 0);
    const probeBefore = probe ? await probeEvent(model, probe, trig, 'purify', -1) : null;
    lastMerge = probeBefore?.merge ?? null;
    const before: EvalPoint = { ...(await evaluatePoint(model, finalPlan, trig, invTarget, deps.signal)), ...(probe ? { merge: lastMerge } : {}) };
    yield { type: 'evaluation', when: 'before', ...before };
    if (probeBefore) yield probeBefore;
    yield end('evaluate');

    purified = await cloneModel(model);
    const p = purified;
    let lastPoint: EvalPoint | null = null;
    const afterEpoch = (stage: DefenseStage) =>
      async function* (epoch: number, isLast: boolean): AsyncGenerator<DefenseEvent, EvalPoint | null, void> {
        lastPoint = null;
        if (cfg.evalEvery > 0 && (isLast || (epoch + 1) % cfg.evalEvery === 0)) lastPoint = await evaluatePoint(p, plan, trig, invTarget, deps.signal);
        if (probe && (isLast || (cfg.probeEvery > 0 && (epoch + 1) % cfg.probeEvery === 0))) {
          const e = await probeEvent(p, probe, trig, stage, epoch);
          lastMerge = e.merge;
          if (lastPoint) lastPoint = { ...lastPoint, merge: e.merge };
          yield e;
        }
        return lastPoint;
      };
    const train = async function* (stage: DefenseStage, m: tf.LayersModel, epochs: number, lr: DefenseConfig['lr'], loss: StageLoss, evaluate: boolean) {
      yield begin(stage, epochs);
      const stats = yield* trainStage({ stage, model: m, epochs, lr, loss, afterEpoch: evaluate ? afterEpoch(stage) : undefined }, clean, cfg, rng.fork(stage), control);
      yield end(stage, stats.images);
    };

    if (wantsTrigger && !trig) {
      // Detection found nothing to purify against: the result is an unchanged copy.
    } else if (cfg.method === 'mcldef' || cfg.method === 'mcldef+') {
      const keep = cfg.keepTarget && invTarget !== null ? { target: invTarget, anchor: cfg.anchor } : null;
      yield* train('purify', p, cfg.epochs, cfg.lr, mclStageLoss(p, model, trig!, cfg.tau, cfg.purifyBn === 'train', keep), true);
      if (cfg.method === 'mcldef+') yield* train('correct', p, cfg.plus.epochs, cfg.plus.lr, positiveStageLoss(p, model, trig!, cfg.purifyBn === 'train'), true);
    } else if (cfg.method === 'nc') {
      yield* train('purify', p, cfg.epochs, cfg.lr, ncStageLoss(p, trig!, cfg.nc.triggerShare), true);
    } else if (cfg.method === 'ft') {
      yield* train('purify', p, cfg.epochs, cfg.lr, ftStageLoss(p), true);
    } else {
      // Attention at the last three stage outputs of any registered architecture (WRN groups, ResNet stages).
      const layers = cfg.nad.layers ?? (architectureOf(p) ? groupOutputs(p) : wrnGroupOutputs(p));
      if (layers.length !== cfg.nad.betas.length) throw new Error(`NAD: ${layers.length} attention layers (${layers.join(', ')}) but ${cfg.nad.betas.length} betas`);
      teacher = await cloneModel(model);
      yield* train('teacher', teacher, cfg.nad.teacherEpochs, cfg.lr, ftStageLoss(teacher), false);
      yield* train('purify', p, cfg.epochs, cfg.lr, nadStageLoss(p, teacher, layers, cfg.nad.betas, cfg.nad.p), true);
      teacher.dispose();
      teacher = null;
    }

    // The result reuses the last epoch's measurement when it was taken on the result set; else it is a stage of
    // its own (planRun's trailing 'evaluate'), announced so the page and the timings show it.
    const reused = finalPlan === plan ? lastPoint : null;
    if (!reused) yield begin('evaluate', 0, STAGE_LABEL_AFTER);
    const after: EvalPoint = reused ?? { ...(await evaluatePoint(p, finalPlan, trig, invTarget, deps.signal)), ...(probe ? { merge: lastMerge } : {}) };
    yield { type: 'evaluation', when: 'after', ...after };
    if (!reused) yield end('evaluate', 2 * (finalPlan.set?.n ?? 0));
    const { mask: _m, pattern: _p, ...inversion } = trigger ?? { mask: null, pattern: null };
    const summary = {
      method: cfg.method,
      config: cfg,
      target,
      detection,
      inversion: trigger ? (inversion as Omit<InvertedTrigger, 'mask' | 'pattern'>) : null,
      before: plan.set ? before : null,
      after: plan.set ? after : null,
      timings,
      totalSeconds: (Date.now() - runStart) / 1000,
      warnings: defenseWarnings({
        before,
        after,
        target: invTarget ?? target,
        targetName: target !== null ? deps.classNames?.[target] : undefined,
        mask: trigger ? { values: trigger.mask, height: trigger.height, width: trigger.width } : null,
      }),
    };
    yield { type: 'done', summary };
    purified = null; // ownership passes to the caller
    return { model: p, trigger, summary };
  } catch (e) {
    if (deps.signal?.aborted && !isAbortError(e)) throw new DefenseAbortError(deps.signal.reason);
    throw e;
  } finally {
    trig?.dispose();
    teacher?.dispose();
    purified?.dispose();
  }
}

/** Drives a run to its end (control.ts driveToEnd): every event to `onEvent`, the result at the end. */
export function driveDefense(run: AsyncGenerator<DefenseEvent, DefenseResult, void>, onEvent?: (e: DefenseEvent) => void): Promise<DefenseResult> {
  return driveToEnd(run, onEvent);
}
