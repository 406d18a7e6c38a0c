/**
 * The defender's clean data: the shipped demo split (5% of CIFAR-10) or the user's own images (a folder with one
 * sub-folder per class, a .zip of such folders, or images with a labels.csv), with counts per class and warnings.
 */
import { useState } from 'react';
import { loadDemoData } from '../controller';
import { useStore } from '../store';
import { cancelImport, fromDrop, fromInput, type PickedFile, uploadCleanData } from '../uploadController';

export function DataPicker() {
  const clean = useStore((s) => s.clean);
  const progress = useStore((s) => s.importProgress);
  // Off until the page has started (the default model decides the image size) and while a run uses the data.
  const running = useStore((s) => s.phase !== 'ready' || s.run?.status === 'running' || s.run?.status === 'paused');
  const [over, setOver] = useState(false);
  const load = (files: PickedFile[]) => void uploadCleanData(files);
  const max = clean ? Math.max(1, ...clean.counts) : 1;
  return (
    <section className="card" data-testid="data-picker">
      <h2>Clean data</h2>
      {clean ? (
        <p data-testid="clean-summary">
          {clean.n.toLocaleString('en')} images ({clean.label}), {clean.height}×{clean.width}
        </p>
      ) : (
        <p>No clean data loaded.</p>
      )}
      {clean && (
        <div className="class-counts" aria-label="images per class">
          {clean.counts.map((n, c) => (
            <div key={c} className="class-count" title={`${clean.classNames[c]}: ${n}`}>
              <span>{clean.classNames[c]}</span>
              <meter min={0} max={max} value={n} />
              <span>{n}</span>
            </div>
          ))}
        </div>
      )}
      {clean?.warnings.map((w, i) => <p key={i} className="notice" data-testid="clean-warning">{w}</p>)}
      <details>
        <summary>Use your own clean images</summary>
        <p className="explain">
          One folder per class (<code>dog/001.png</code>, …; names from the model's classes, or 0, 1, …), as a folder or a .zip; or images with a
          <code> labels.csv</code> of <code>file,label</code> lines. Any image size (resized to the model's input). At most 10,000 images.
        </p>
        <div
          className={`dropzone${over ? ' over' : ''}`}
          onDragOver={(e) => { e.preventDefault(); setOver(true); }}
          onDragLeave={() => setOver(false)}
          onDrop={(e) => { e.preventDefault(); setOver(false); void fromDrop(e.dataTransfer).then(load); }}
        >
          <label className="field">
            <span>A folder</span>
            <input type="file" data-testid="clean-folder" disabled={running || !!progress} {...{ webkitdirectory: '', directory: '' }} onChange={(e) => load(fromInput(e.target.files))} />
          </label>
          <label className="field">
            <span>Files or a .zip</span>
            <input type="file" multiple data-testid="clean-files" disabled={running || !!progress} accept="image/*,.zip,.csv,.txt,.tsv" onChange={(e) => load(fromInput(e.target.files))} />
          </label>
          <span>or drop them here</span>
        </div>
        {progress && (
          <div role="status" className="progress">
            Decoding images: {progress.done.toLocaleString('en')} / {progress.total.toLocaleString('en')}
            <progress max={progress.total} value={progress.done} />
            <button type="button" data-testid="cancel-import" onClick={() => void cancelImport()}>Cancel</button>
          </div>
        )}
        <button type="button" disabled={running || !!progress} onClick={() => void loadDemoData()}>Back to the demo data (2,500 CIFAR-10 images)</button>
      </details>
    </section>
  );
}
