/** `mcldef eval`: BA and ASR of a model on a data set under a known attack. */
import * as tf from '@tensorflow/tfjs';
import { poisonTestSet } from '../../engine/attacks/poison';
import { evaluateBackdoor } from '../../engine/metrics';
import { attackFromName, loadDataArg } from '../../platform/node/data';
import { manifestTriggerFile } from '../../platform/node/triggerArg';
import { loadModel } from '../../platform/node/modelFiles';
import { ATTACK_OPTIONS, intOption, MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelLoadOptions, parse, required, UsageError } from '../args';
import { ProgressBar } from '../progress';
import { modelFit } from './cleanData';

export const evalHelp = `mcldef eval --model DIR --data DATA [--attack NAME] [--target N] [--trigger FILE] [--batch N] [--json]

  Prints the clean accuracy (BA) and the attack success rate (ASR) of a model.
  --model    folder with model.json (TensorFlow.js), or a PyTorch checkpoint (.pth/.pt, zip or legacy) or .safetensors
             state_dict of a WRN-d-k, ResNet-18 or PreAct-ResNet-18 (or a folder holding one)
  --data     image folder (<class>/<image>, or images + labels.csv; any size, resized), a .zip of one, an .mcld
             shard, or cifar10:test / cifar10:train
  --attack   badnets | trojan | blend | sig | cl | none   (default: the model manifest's attack, else none)
  --target   the backdoor's target class (default: the manifest's, else 5)
  --trigger  Trojan patch .npz (default: the shared trojan_square_cifar10.npz)
  --json     print the result as JSON on stdout
${MODEL_OPTIONS_HELP}`;

/** Runs `mcldef eval`. */
export async function runEval(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    ...MODEL_OPTIONS,
    ...ATTACK_OPTIONS,
    model: { type: 'string' },
    data: { type: 'string' },
    batch: { type: 'string' },
    json: { type: 'boolean' },
  });
  const modelPath = required(values.model, 'model');
  const dataPath = required(values.data, 'data');
  const batchSize = intOption(values.batch, 'batch', 256, 1, 4096);
  const loaded = await loadModel(modelPath, modelLoadOptions(values));
  const { model, manifest } = loaded;
  const attackName = values.attack ?? manifest?.attack?.name ?? 'none';
  const target = intOption(values.target, 'target', manifest?.target ?? 5, 0);
  const fit = modelFit(model, manifest?.classNames, values.classes);
  const { numClasses } = fit;
  const ds = await loadDataArg(dataPath, fit);
  if (ds.height !== model.inputs[0].shape[1] || ds.width !== model.inputs[0].shape[2]) {
    throw new Error(`images are ${ds.height}x${ds.width} but the model expects ${model.inputs[0].shape[1]}x${model.inputs[0].shape[2]}`);
  }
  if (ds.classNames.length > numClasses) throw new Error(`data has ${ds.classNames.length} classes but the model has ${numClasses} outputs`);
  if (attackName !== 'none' && target >= numClasses) throw new UsageError(`--target ${target} is not a class of this ${numClasses}-class model`);
  const triggerFile = values.trigger ?? (values.attack === undefined ? manifestTriggerFile(modelPath, manifest) : undefined);
  const attack = attackName === 'none' ? null : await attackFromName(attackName, triggerFile);
  const triggered = attack ? poisonTestSet(ds, attack, target) : null;
  const bar = new ProgressBar('eval', 'img');
  const t0 = performance.now();
  const r = await evaluateBackdoor(model, ds, triggered, target, { batchSize, numClasses, onProgress: (d, t) => bar.update(d, t) });
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    model: loaded.source,
    data: dataPath,
    backend: tf.getBackend(),
    attack: attackName,
    target,
    ba: r.ba,
    asr: attack ? r.asr : null,
    nClean: r.nClean,
    nAsr: r.nAsr,
    perClass: Object.fromEntries(ds.classNames.map((c, i) => [c, r.perClass[i]])),
    seconds,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    const pct = (v: number) => (v * 100).toFixed(2) + '%';
    console.log(`model   ${loaded.source} (${loaded.format})`);
    console.log(`data    ${dataPath}: ${ds.n} images, ${ds.classNames.length} classes`);
    console.log(`BA      ${pct(r.ba)}  (${r.nClean} clean images)`);
    if (attack) console.log(`ASR     ${pct(r.asr)}  (${attackName}, target ${target} "${ds.classNames[target] ?? target}", ${r.nAsr} non-target images)`);
    console.log(`per-class accuracy: ${ds.classNames.map((c, i) => `${c} ${pct(r.perClass[i])}`).join(', ')}`);
    console.log(`time    ${seconds.toFixed(1)} s on ${tf.getBackend()} (${((r.nClean + r.nAsr) / seconds).toFixed(0)} img/s)`);
  }
  model.dispose();
}
