/**
 * Backend selection shared by browsers and Node: try candidates in order of preference, keep the first that
 * initializes and passes a tiny numerical self-check, and report what was chosen and why the others were not.
 */
import * as tf from '@tensorflow/tfjs';

/** Names of the TF.js backends the project uses. */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** One backend to try: `prepare` registers it or sets it up (e.g. WASM paths) and may throw to skip it. */
export interface BackendCandidate {
  name: BackendName;
  prepare?: () => Promise<void> | void;
}

/** What selection chose, and the reason each earlier candidate was passed over. */
export interface BackendReport {
  backend: BackendName;
  /** e.g. the GPU adapter, WASM threads/SIMD, filled in by the platform */
  detail: string;
  skipped: Array<{ name: BackendName; reason: string }>;
}

/** Runs a 2x2 matmul on the active backend and checks the answer, so a broken driver is caught at start. */
async function selfCheck(): Promise<void> {
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
  const v = await y.data();
  y.dispose();
  const want = [19, 22, 43, 50];
  if (want.some((w, i) => Math.abs(v[i] - w) > 1e-3)) throw new Error(`self-check gave [${Array.from(v)}], expected [${want}]`);
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
      await c.prepare?.();
      const ok = await tf.setBackend(c.name);
      if (!ok) throw new Error('tf.setBackend returned false (initialization failed)');
      await tf.ready();
      await selfCheck();
      return { backend: c.name, detail: '', skipped };
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
