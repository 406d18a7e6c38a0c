/**
 * Choosing the model: a built-in one from the zoo, or the user's own (TF.js files, a PyTorch checkpoint of a
 * WRN-d-k / ResNet-18 / PreAct-ResNet-18, or a .safetensors state_dict) with its input normalization, class names,
 * and, when known, its target class and attack.
 */
import { useState } from 'react';
import { CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD } from '../../engine/data/cifar10';
import { loadZooModel } from '../controller';
import { useStore } from '../store';
import { fromDrop, fromInput, type PickedFile, uploadModel } from '../uploadController';

const CIFAR10 = CIFAR10_CLASSES.join(', ');
const triple = (v: readonly number[]) => v.map((x) => x.toFixed(4)).join(', ');

function parseNumbers(text: string, what: string): number[] {
  const v = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new Error(`${what}: expected three numbers (R, G, B), got "${text}"`);
  if (what === 'std' && v.some((x) => x <= 0)) throw new Error('std: every value must be > 0');
  return v;
}

export function ModelPicker() {
  const zoo = useStore((s) => s.zoo);
  const attacks = useStore((s) => s.attacks);
  const card = useStore((s) => s.card);
  const busy = useStore((s) => s.phase !== 'ready' || s.busy !== null || s.run?.status === 'running' || s.run?.status === 'paused');
  const [files, setFiles] = useState<PickedFile[]>([]);
  const [mean, setMean] = useState(triple(CIFAR10_MEAN));
  const [std, setStd] = useState(triple(CIFAR10_STD));
  const [classes, setClasses] = useState(CIFAR10);
  const [target, setTarget] = useState('');
  const [attack, setAttack] = useState('');
  const [formError, setFormError] = useState('');
  const [over, setOver] = useState(false);

  const submit = async () => {
    setFormError('');
    let options;
    try {
      const classNames = classes.split(',').map((c) => c.trim()).filter(Boolean);
      const t = target.trim() === '' ? undefined : Number(target);
      if (t !== undefined && !(Number.isInteger(t) && t >= 0)) throw new Error(`target: expected a class index (0, 1, ...), got "${target}"`);
      options = { mean: parseNumbers(mean, 'mean'), std: parseNumbers(std, 'std'), classNames: classNames.length ? classNames : undefined, target: t, attack: attack || undefined };
    } catch (e) {
      setFormError((e as Error).message);
      return;
    }
    const submitted = files;
    if (await uploadModel(submitted, options)) {
      // Clear the picker, unless the user picked other files while this upload was still evaluating.
      setFiles((cur) => (cur === submitted ? [] : cur));
      const input = document.querySelector<HTMLInputElement>('[data-testid="model-files"]');
      if (input && input.files?.[0] === submitted[0]?.file) input.value = '';
    }
  };

  return (
    <section className="card" data-testid="model-picker">
      <h2>Choose a model</h2>
      <label className="field">
        <span>Built-in (WRN-16-1 on CIFAR-10)</span>
        <select data-testid="zoo-select" value={card?.source === 'zoo' ? card.name : ''} disabled={busy} onChange={(e) => e.target.value && void loadZooModel(e.target.value)}>
          {card?.source !== 'zoo' && <option value="">(your model)</option>}
          {zoo.map((m) => <option key={m.name} value={m.name}>{m.title}</option>)}
        </select>
      </label>
      <details>
        <summary>Upload your own model</summary>
        <p className="explain">
          A TensorFlow.js model (model.json with its .bin files), a PyTorch checkpoint (.pth / .pt, as torch.save writes it, new or pre-1.6 format) of
          a WRN-d-k, ResNet-18 or PreAct-ResNet-18, or a .safetensors state_dict. PyTorch files are read by this page's own reader, which never runs code
          from the file. Nothing leaves your computer. The mean and std below apply to PyTorch and safetensors files; a TF.js
          model is used as it is, on pixels in [0, 1].
        </p>
        <div
          className={`dropzone${over ? ' over' : ''}`}
          onDragOver={(e) => { e.preventDefault(); setOver(true); }}
          onDragLeave={() => setOver(false)}
          onDrop={(e) => { e.preventDefault(); setOver(false); void fromDrop(e.dataTransfer).then(setFiles); }}
        >
          <input type="file" multiple data-testid="model-files" aria-label="Model files" accept=".json,.bin,.pth,.pt,.ckpt,.tar,.safetensors" onChange={(e) => setFiles(fromInput(e.target.files))} />
          <span>{files.length ? files.map((f) => f.path).join(', ') : 'or drop the files here'}</span>
        </div>
        <label className="field"><span>Input mean (R, G, B)</span><input value={mean} onChange={(e) => setMean(e.target.value)} data-testid="upload-mean" /></label>
        <label className="field"><span>Input std (R, G, B)</span><input value={std} onChange={(e) => setStd(e.target.value)} data-testid="upload-std" /></label>
        <label className="field"><span>Class names, comma-separated</span><input value={classes} onChange={(e) => setClasses(e.target.value)} /></label>
        <label className="field"><span>Target class (blank: find it with Neural Cleanse detection)</span><input value={target} onChange={(e) => setTarget(e.target.value)} inputMode="numeric" data-testid="upload-target" /></label>
        <label className="field">
          <span>Its attack, to measure the true ASR (optional)</span>
          <select value={attack} onChange={(e) => setAttack(e.target.value)}>
            <option value="">unknown</option>
            {attacks.map((a) => <option key={a.name} value={a.name}>{a.title}</option>)}
          </select>
        </label>
        {formError && <p className="error" role="alert">{formError}</p>}
        <button type="button" data-testid="upload-model" disabled={busy || files.length === 0} onClick={() => void submit()}>Load this model</button>
      </details>
      {card && <p className="muted" data-testid="model-description">{card.description}</p>}
    </section>
  );
}
