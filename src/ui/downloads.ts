/**
 * The page's downloads: the purified model (TF.js files, or a PyTorch state_dict), the run's report as JSON, and a
 * chart as PNG (its SVG drawn onto a canvas). Everything else about a run is in runController.ts.
 */
import { engine } from './controller';
import { reportError, store } from './store';

/** Saves `data` as a file named `name` through a temporary object URL. */
export function download(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Downloads the purified model (model.json + weights.bin, TF.js LayersModel format). */
export async function downloadModel(): Promise<void> {
  try {
    const { modelJson, weights } = await engine().call('exportModel', {});
    download('model.json', modelJson, 'application/json');
    download('weights.bin', weights, 'application/octet-stream');
  } catch (e) {
    reportError(e);
  }
}

/** Downloads the run's report: settings, summary, per-epoch metrics and the inverted trigger. */
export function downloadReport(): void {
  const s = store.getState();
  if (!s.run) return;
  const report = {
    generatedBy: 'MCLDef Playground',
    date: new Date().toISOString(),
    model: s.card,
    settings: s.settings,
    backend: s.backend,
    summary: s.run.summary,
    before: s.run.before,
    after: s.run.after,
    epochs: s.run.train.epochs,
    detection: s.run.detection.report,
    invertedTrigger: s.run.inversion.result && { ...s.run.inversion.result, mask: Array.from(s.run.inversion.result.mask), pattern: Array.from(s.run.inversion.result.pattern) },
    ftComparison: s.ftSummary,
  };
  download('mcldef-report.json', JSON.stringify(report, null, 2), 'application/json');
}

/** Downloads a chart (an SVG inside `container`) as PNG. */
export async function downloadChart(container: HTMLElement | null, name: string): Promise<void> {
  const svg = container?.querySelector('svg');
  if (!svg) return reportError(new Error('no chart to save yet'));
  const { width, height } = svg.getBoundingClientRect();
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(xml)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(width * 2);
  canvas.height = Math.ceil(height * 2);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  canvas.toBlob((b) => b && download(`${name}.png`, b, 'image/png'));
}

/** Downloads the purified model as a PyTorch state_dict: safetensors, or a torch.save zip (.pth). */
export async function downloadWeights(format: 'safetensors' | 'pth'): Promise<void> {
  try {
    const { name, bytes } = await engine().call('exportWeights', { format });
    download(name, bytes, 'application/octet-stream');
  } catch (e) {
    reportError(e);
  }
}
