/**
 * Writing an engine-built model's weights as a PyTorch state_dict that `load_state_dict(strict=True)` accepts.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../io/safetensors';
import type { ArchInfo, ArchName, KeyStyle } from './architectures';
import { architectureOf } from './introspect';
import { expectedKeys, toTorchPerm } from './torchLayout';
import type { StateDict } from './torchWeights';

/**
 * Exports a model's weights as a PyTorch state_dict (float32 'F32' tensors in PyTorch layouts, plus BN
 * num_batches_tracked as 'I64' zeros, which load_state_dict(strict=True) requires). Reads with `await data()`.
 * @param info key spellings to use (defaults: the benchmark code's; the ones a loaded state_dict had come with
 *   {@link modelFromStateDict}'s result); `arch` must agree with the model when given
 * @throws Error when the model is not a registered architecture
 */
export async function stateDictFromModel(model: tf.LayersModel, info: { arch?: ArchName; keys?: KeyStyle } = {}): Promise<StateDict> {
  const found = architectureOf(model);
  if (!found) throw new Error('stateDictFromModel: expected a WRN, ResNet-18 or PreAct-ResNet-18 built by this engine; the layer names are not those of any of them');
  if (info.arch && info.arch !== found.arch) throw new Error(`stateDictFromModel: asked for a ${info.arch} state_dict, but the model is a ${found.arch}`);
  const arch: ArchInfo = { ...found, keys: { ...found.keys, ...info.keys } };
  const sd: StateDict = new Map();
  for (const [key, e] of expectedKeys(model, arch)) {
    const perm = toTorchPerm(e.kind, e.suffix);
    const v = e.layer.weights[e.j].read();
    const t = perm ? tf.transpose(v, perm) : v;
    const data = (await t.data()) as Float32Array;
    if (t !== v) t.dispose();
    sd.set(key, { dtype: 'F32', shape: e.shape, data: new Float32Array(data) });
    if (e.kind === 'bn' && e.suffix === 'running_var') {
      sd.set(key.replace(/running_var$/, 'num_batches_tracked'), { dtype: 'I64', shape: [], data: new Int32Array(1) } satisfies NamedTensor);
    }
  }
  return sd;
}
