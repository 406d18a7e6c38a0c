/** A terminal progress bar with rate and ETA, written to stderr (redrawn in place on a TTY, else one line per 10%). */

/** Formats seconds as "1h02m", "3m05s" or "12s". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.max(0, Math.round(s));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Progress of one long step. */
export class ProgressBar {
  private readonly start = performance.now();
  private lastDecile = -1;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly unit = 'it',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Reports `done` of `total`; `extra` is appended (e.g. the current loss). */
  update(done: number, total: number, extra = ''): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = done > 0 ? (total - done) / rate : NaN;
    const frac = total > 0 ? done / total : 0;
    const text = `${this.label} ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total} ${rate.toFixed(1)} ${this.unit}/s ETA ${formatDuration(eta)}${extra ? ' ' + extra : ''}`;
    if (this.stream.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round(frac * width);
      this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      if (done >= total) this.stream.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(text + '\n');
      }
    }
  }
}
