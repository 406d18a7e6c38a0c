/** `mcldef convert`: a model from any supported format to another (TF.js folder, PyTorch .pth, safetensors). */
import { loadModel, saveModel, saveStateDict } from '../../platform/node/modelFiles';
import { checkOutFile, prepareOutDir, removeCreated } from '../../platform/node/safeFs';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelLoadOptions, parse, required } from '../args';

export const convertHelp = `mcldef convert --model PATH --out PATH

  Converts a model between formats; the output format follows --out:
    *.pth          a PyTorch state_dict as torch.save writes it (zip format): torch.load + load_state_dict
    *.safetensors  the same state_dict as safetensors (architecture and normalization in its metadata)
    anything else  a folder with a TensorFlow.js LayersModel (model.json + weights.bin), as the app loads it
  --model    folder with model.json, or a PyTorch checkpoint (.pth/.pt, zip or legacy) or .safetensors state_dict
             of a WRN-d-k, ResNet-18 or PreAct-ResNet-18
${MODEL_OPTIONS_HELP}`;

/** Runs `mcldef convert`. */
export async function runConvert(argv: string[]): Promise<void> {
  const { values } = parse(argv, { ...MODEL_OPTIONS, model: { type: 'string' }, out: { type: 'string' } });
  const modelPath = required(values.model, 'model');
  const out = required(values.out, 'out');
  const toFile = /\.(pth|pt|safetensors)$/i.test(out);
  // --out is checked (a folder output created) before the model is read.
  const created = toFile ? checkOutFile(out) : prepareOutDir(out);
  let loaded;
  try {
    loaded = await loadModel(modelPath, modelLoadOptions(values));
  } catch (e) {
    removeCreated(created);
    throw e;
  }
  try {
    if (toFile) await saveStateDict(loaded.model, out);
    else await saveModel(loaded.model, out);
    console.log(`${loaded.source}${loaded.description ? ` (${loaded.description})` : ''} -> ${out}`);
  } finally {
    loaded.model.dispose();
  }
}
