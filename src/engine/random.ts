/**
 * The project's one seeded pseudo-random number generator.
 *
 * Every random choice in the engine (data splits, shuffles, augmentation offsets, initial masks) draws from an
 * {@link Rng} created here, so one seed reproduces a whole run. `Math.random` and `tf.util.shuffle` are never used.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna, 2018), 128-bit state, period 2^128 - 1, 32-bit outputs. The state is
 * filled from the 32-bit seed with splitmix32, so nearby seeds (0, 1, 2, ...) give unrelated streams.
 *
 * Forking: `rng.fork(label)` derives a child stream from the parent's *key* (the seed material it was created from)
 * and the label only, not from how many values the parent has drawn. Adding a draw in one part of the code therefore
 * never shifts the stream of another part that uses its own fork (`rng.fork('augment')`, `rng.fork(epoch)`).
 */

/** A seeded stream of pseudo-random numbers. Not thread-safe; fork one per consumer. */
export interface Rng {
  /** Key the stream was derived from (4 uint32 words); equal keys give equal streams. */
  readonly key: readonly number[];
  /** Next raw 32-bit output, an integer in [0, 2^32). */
  uint32(): number;
  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number;
  /** Uniform integer in [0, n), unbiased (rejection sampling). n: integer in [1, 2^32]. */
  int(n: number): number;
  /** Standard normal N(0, 1) by Box-Muller; consumes two uniforms per call. */
  normal(): number;
  /** Shuffles `array` in place (Fisher-Yates, walking from the end) and returns it. */
  shuffle<T, A extends { length: number; [i: number]: T }>(array: A): A;
  /** A uniformly random permutation of 0..n-1, as [n] int32. */
  permutation(n: number): Int32Array;
  /** An independent child stream determined by this stream's key and `label` (not by draws made so far). */
  fork(label: string | number): Rng;
}

const TWO_POW_32 = 4294967296;

/** splitmix32 step: returns [output, nextState]. Used to expand seeds and hash fork labels. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/** Expands a 32-bit seed into a 4-word key; never all zero (xoshiro's one forbidden state). */
function keyFromSeed(seed: number): number[] {
  let s = seed >>> 0;
  const key: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [out, next] = splitmix32(s);
    key.push(out);
    s = next;
  }
  if ((key[0] | key[1] | key[2] | key[3]) === 0) key[0] = 1;
  return key;
}

/** Mixes a label into a 32-bit value: FNV-1a over the UTF-16 code units, then one splitmix32 round. */
function hashLabel(label: string | number): number {
  const text = typeof label === 'number' ? `#${label}` : `$${label}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h)[0];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A generator whose xoshiro128** state is exactly `key` (no seed expansion). Exported for the reference test
 * vectors of the algorithm (state [1, 2, 3, 4] gives 11520, 0, 5927040, 70819200, ...); use {@link createRng}.
 */
export function rngFromKey(key: readonly number[]): Rng {
  if (key.length !== 4) throw new Error(`rngFromKey: key must have 4 words, got ${key.length}`);
  const frozenKey = Object.freeze(key.map((k) => k >>> 0));
  if (frozenKey.every((k) => k === 0)) throw new Error('rngFromKey: the all-zero key is not a valid xoshiro state');
  let s0 = frozenKey[0] | 0;
  let s1 = frozenKey[1] | 0;
  let s2 = frozenKey[2] | 0;
  let s3 = frozenKey[3] | 0;

  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result >>> 0;
  };
  const next = (): number => uint32() / TWO_POW_32;
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Accept only outputs below the largest multiple of n, so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let u = uint32();
    while (u >= limit) u = uint32();
    return u % n;
  };
  const normal = (): number => {
    const u1 = 1 - next(); // (0, 1]: log is finite
    const u2 = next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };

  const rng: Rng = {
    key: frozenKey,
    uint32,
    next,
    int,
    normal,
    shuffle<T, A extends { length: number; [i: number]: T }>(array: A): A {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
    permutation(n: number): Int32Array {
      if (!Number.isInteger(n) || n < 0) throw new Error(`Rng.permutation: n must be a non-negative integer, got ${n}`);
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      return rng.shuffle<number, Int32Array>(p);
    },
    fork(label: string | number): Rng {
      let h = hashLabel(label);
      const child: number[] = [];
      for (let i = 0; i < 4; i++) {
        // Each child word depends on every parent word and on the label.
        let [out, state] = splitmix32((h ^ frozenKey[i]) >>> 0);
        [out, state] = splitmix32((state ^ frozenKey[(i + 1) % 4]) >>> 0);
        child.push(out);
        h = state ^ out;
      }
      if ((child[0] | child[1] | child[2] | child[3]) === 0) child[0] = 1;
      return rngFromKey(child);
    },
  };
  return rng;
}

/**
 * Creates the generator for a seed. Seeds are taken modulo 2^32 (negative and fractional seeds are truncated to
 * their 32-bit integer part first), so use integers in [0, 2^32).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  return rngFromKey(keyFromSeed(Math.trunc(seed) >>> 0));
}

/**
 * Draws an integer seed in [0, 2^31 - 1) for tfjs ops that take one (`tf.randomUniform(..., seed)`,
 * `tf.initializers.*({seed})`), so they too follow the project seed. Consumes one value of `rng`.
 */
export function seedFor(rng: Rng): number {
  return rng.int(0x7fffffff);
}
