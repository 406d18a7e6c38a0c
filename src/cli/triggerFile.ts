/**
 * trigger.json: the inverted trigger that `purify` and `detect` write and `purify --inverted` reads back. Read
 * fully validated (every field, every value finite and in [0, 1]) before any work, so a damaged or hostile file
 * cannot train the model to NaN or fail after the run.
 */
import type { InvertedTrigger } from '../engine/defense/events';
import { READ_LIMITS, readRegularText } from '../platform/node/safeFs';

/** Mask statistics for the report: L1, mean, max, pixels above 0.5 and their bounding box. */
export function maskStats(t: InvertedTrigger): Record<string, unknown> {
  let max = 0;
  let on = 0;
  const box = { top: Infinity, left: Infinity, bottom: -1, right: -1 };
  t.mask.forEach((v, i) => {
    max = Math.max(max, v);
    if (v <= 0.5) return;
    on++;
    const r = Math.floor(i / t.width);
    const c = i % t.width;
    box.top = Math.min(box.top, r);
    box.left = Math.min(box.left, c);
    box.bottom = Math.max(box.bottom, r);
    box.right = Math.max(box.right, c);
  });
  return { l1: t.maskL1, mean: t.maskL1 / t.mask.length, max, pixelsAbove05: on, boxAbove05: on ? box : null };
}

/** trigger.json's text for a trigger (typed arrays as plain lists). */
export function triggerJson(t: InvertedTrigger): string {
  const { mask, pattern, ...info } = t;
  return JSON.stringify({ ...info, mask: Array.from(mask), pattern: Array.from(pattern) });
}

/** Values in [0, 1] from a JSON list, or the reason they are not. */
function unitList(v: unknown, length: number, what: string): Float32Array {
  if (!Array.isArray(v)) throw new Error(`${what} is missing or not a list`);
  if (v.length !== length) throw new Error(`${what} has ${v.length} values, expected ${length}`);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1) throw new Error(`${what}[${i}] is ${JSON.stringify(x)}, expected a number in [0, 1]`);
    out[i] = x;
  }
  return out;
}

/**
 * Parses a trigger.json's content; `fit` (the model's input size and class count) is checked when given.
 * @throws Error "<label>: <what is wrong>; expected a trigger.json ..."
 */
export function parseInvertedTrigger(text: string, label: string, fit?: { height: number; width: number; channels: number; numClasses: number }): InvertedTrigger {
  const fail = (why: string): never => {
    throw new Error(`${label}: ${why} (expected a trigger.json written by mcldef purify or detect: target, height, width, channels, mask [H*W] and pattern [H*W*C] in [0, 1])`);
  };
  let raw: Record<string, unknown> = {};
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    fail('not valid JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('not a JSON object');
  const int = (k: string, min: number, max: number): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`"${k}" is ${JSON.stringify(v) ?? 'missing'}, expected an integer in [${min}, ${max}]`);
    return v as number;
  };
  const height = int('height', 1, 4096);
  const width = int('width', 1, 4096);
  const channels = int('channels', 1, 4);
  const target = int('target', 0, 100_000);
  let mask: Float32Array = new Float32Array(0);
  let pattern: Float32Array = new Float32Array(0);
  try {
    mask = unitList(raw.mask, height * width, 'mask');
    pattern = unitList(raw.pattern, height * width * channels, 'pattern');
  } catch (e) {
    fail((e as Error).message);
  }
  if (fit) {
    if (height !== fit.height || width !== fit.width || channels !== fit.channels) fail(`the trigger is ${height}x${width}x${channels} but the model takes ${fit.height}x${fit.width}x${fit.channels} images`);
    if (target >= fit.numClasses) fail(`target ${target} is not a class of this ${fit.numClasses}-class model`);
  }
  const num = (k: string, def: number): number => {
    const v = raw[k];
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`"${k}" is ${JSON.stringify(v)}, expected a number`);
    return v as number;
  };
  // Statistics: recomputed or defaulted when absent, so an older or hand-made file works.
  const maskL1 = mask.reduce((a, b) => a + b, 0);
  return {
    target,
    height,
    width,
    channels,
    mask,
    pattern,
    maskL1,
    attackRate: num('attackRate', 0),
    epochs: num('epochs', 0),
    steps: num('steps', 0),
    stoppedEarly: raw.stoppedEarly === true,
    converged: raw.converged === true,
  };
}

/** Reads and validates a trigger.json file (a regular file of at most 64 MiB). */
export function readInvertedTrigger(file: string, fit?: { height: number; width: number; channels: number; numClasses: number }): InvertedTrigger {
  let text: string;
  try {
    text = readRegularText(file, READ_LIMITS.json);
  } catch (e) {
    throw new Error(`--inverted ${(e as Error).message}`);
  }
  return parseInvertedTrigger(text, `--inverted ${file}`, fit);
}
