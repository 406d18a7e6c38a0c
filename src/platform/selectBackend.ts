/**
 * Backend selection shared by browsers and Node: try candidates in order of preference, keep the first that
 * initializes and passes a tiny numerical self-check, and report what was chosen and why the others were not.
 * {@link selectFastestBackend} instead times a few training steps on every candidate that starts and keeps the
 * fastest, so a slow GPU path (a software adapter, an old integrated GPU) does not beat WASM on the CPU.
 */
import * as tf from '@tensorflow/tfjs';
import type { Calibration } from '../engine/defense/calibrate';

/** Names of the TF.js backends the project uses. */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** One backend to try: `prepare` registers it or sets it up (e.g. WASM paths) and may throw to skip it. */
export interface BackendCandidate {
  name: BackendName;
  prepare?: () => Promise<void> | void;
  /** Runs once the backend is active (e.g. registers the project's kernels for it). */
  afterInit?: () => Promise<void> | void;
  /** Once active: why this backend runs in software and is not worth timing, or null (a real device). */
  software?: () => string | null;
  /** Once active: what it runs on, for the badge (the GPU adapter, WASM's build). */
  detail?: () => string;
}

/** What calibration found for one candidate. */
export interface BackendTiming {
  name: BackendName;
  /** Measured rates (images/s), or null when not timed. */
  rates: Calibration | null;
  /** Why it was not timed (software adapter, failed to start), or '' when timed. */
  note: string;
}

/** What selection chose, and the reason each earlier candidate was passed over. */
export interface BackendReport {
  backend: BackendName;
  /** e.g. the GPU adapter, WASM threads/SIMD, filled in by the platform */
  detail: string;
  skipped: Array<{ name: BackendName; reason: string }>;
  /** Calibration, when the backend was chosen by timing (selectFastestBackend): every candidate's result. */
  timings?: BackendTiming[];
  /** One sentence on why this backend was chosen, with the measured rates. */
  why?: string;
}

/** Runs a 2x2 matmul on the active backend and checks the answer, so a broken driver is caught at start. */
async function selfCheck(): Promise<void> {
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
  const v = await y.data();
  y.dispose();
  const want = [19, 22, 43, 50];
  if (want.some((w, i) => Math.abs(v[i] - w) > 1e-3)) throw new Error(`self-check gave [${Array.from(v)}], expected [${want}]`);
}

/** Prepares, activates and self-checks one candidate; throws why it cannot be used. */
async function activate(c: BackendCandidate): Promise<void> {
  await c.prepare?.();
  const ok = await tf.setBackend(c.name);
  if (!ok) throw new Error('tf.setBackend returned false (initialization failed)');
  await tf.ready();
  await c.afterInit?.();
  await selfCheck();
}

/**
 * Tries each candidate in order and activates the first that works.
 * @param only if set, try just this backend (an explicit user choice) and fail loudly if it does not work
 */
export async function selectBackend(candidates: BackendCandidate[], only?: BackendName): Promise<BackendReport> {
  const list = only ? candidates.filter((c) => c.name === only) : candidates;
  if (only && list.length === 0) {
    throw new Error(`backend "${only}" is not available here; choose one of: ${candidates.map((c) => c.name).join(', ')}`);
  }
  const skipped: BackendReport['skipped'] = [];
  for (const c of list) {
    try {
      await activate(c);
      return { backend: c.name, detail: c.detail?.() ?? '', skipped };
    } catch (e) {
      skipped.push({ name: c.name, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(`no TensorFlow.js backend could start (${why})`);
}

/** One line for logs and badges: "wasm (webgpu skipped: no adapter)". */
export function describeBackend(r: BackendReport): string {
  const extra = r.detail ? ` [${r.detail}]` : '';
  const skipped = r.skipped.length ? ` (${r.skipped.map((s) => `${s.name} skipped: ${s.reason}`).join('; ')})` : '';
  return `${r.backend}${extra}${skipped}`;
}

const NAMES: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };
const rate = (r: Calibration) => `${r.train < 10 ? r.train.toFixed(1) : Math.round(r.train)} img/s${r.partial ? ' at most' : ''}`;

/**
 * Starts every candidate but the last (the plain CPU backend, the last resort, is never timed: a WRN training
 * step there takes minutes), times training on each with `measure` (called with that backend active), and
 * activates the fastest. A software GPU (its `software()` gives the reason) is not timed and never chosen while
 * another candidate works. With `only`, just that backend is started and timed.
 * @param measure times the workload on the active backend (e.g. measureRates on a fresh WRN-16-1)
 */
export async function selectFastestBackend(candidates: BackendCandidate[], measure: () => Promise<Calibration>, only?: BackendName): Promise<BackendReport> {
  if (only) {
    const report = await selectBackend(candidates, only);
    const rates = await measure();
    report.timings = [{ name: only, rates, note: '' }];
    report.why = `${NAMES[only]} was asked for in the address (?backend=${only}): ${rate(rates)} of training here`;
    return report;
  }
  const skipped: BackendReport['skipped'] = [];
  const timings: BackendTiming[] = [];
  const started: BackendCandidate[] = [];
  const last = candidates[candidates.length - 1];
  for (const c of candidates.slice(0, -1)) {
    try {
      await activate(c);
    } catch (e) {
      skipped.push({ name: c.name, reason: e instanceof Error ? e.message : String(e) });
      continue;
    }
    started.push(c);
    const soft = c.software?.() ?? null;
    if (soft) {
      timings.push({ name: c.name, rates: null, note: soft });
      continue;
    }
    try {
      timings.push({ name: c.name, rates: await measure(), note: '' });
    } catch (e) {
      timings.push({ name: c.name, rates: null, note: `timing failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  const timed = timings.filter((t) => t.rates !== null).sort((a, b) => b.rates!.train - a.rates!.train);
  // Fastest timed one; else a software GPU that started; else the last resort.
  const chosen = timed[0]?.name ?? started[0]?.name ?? last.name;
  const c = candidates.find((k) => k.name === chosen)!;
  await activate(c);
  for (const t of timings) if (t.name !== chosen) skipped.push({ name: t.name, reason: t.rates ? `slower here (${rate(t.rates)} of training)` : t.note });
  // Every candidate but the last resort, in order: its rate, or why it was not timed or could not start.
  const parts = candidates.slice(0, -1).map((k) => {
    const t = timings.find((x) => x.name === k.name);
    if (t) return `${NAMES[k.name]}${t.rates ? ` ${rate(t.rates)}` : `: ${t.note}`}`;
    return `${NAMES[k.name]} could not start: ${skipped.find((x) => x.name === k.name)?.reason ?? 'unknown reason'}`;
  });
  const why = timed.length ? `${NAMES[chosen]} trains fastest here (${parts.join('; ')})` : `${NAMES[chosen]}: no backend could be timed (${parts.join('; ')})`;
  return { backend: chosen, detail: c.detail?.() ?? '', skipped: skipped.filter((k) => k.name !== chosen), timings, why };
}
