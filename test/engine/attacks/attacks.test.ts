import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyMaskTrigger } from '../../../src/engine/attacks/mask';
import { ATTACK_INFO, getAttack, isAttackName } from '../../../src/engine/attacks/registry';
import { sigSignal } from '../../../src/engine/attacks/sig';
import { ATTACK_NAMES, type Attack } from '../../../src/engine/attacks/types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const [H, W, C] = [32, 32, 3];
const at = (y: number, x: number, c: number): number => (y * W + x) * C + c;

/** A 32x32x3 image with every channel = v. */
const flat = (v: number): Uint8Array => new Uint8Array(H * W * C).fill(v);
/** Two varied images (pixel values cover 0-255, including the extremes). */
function variedBatch(): Uint8Array {
  const img = new Uint8Array(2 * H * W * C);
  for (let i = 0; i < img.length; i++) img[i] = (i * 37 + (i >> 7) * 11) % 256;
  return img;
}
function stamped(attack: Attack, src: Uint8Array): Uint8Array {
  const out = src.slice();
  const size = H * W * C;
  for (let k = 0; k < out.length / size; k++) attack.stampImage(out.subarray(k * size, (k + 1) * size), H, W, C);
  return out;
}
async function tensorPath(attack: Attack, src: Uint8Array): Promise<Float32Array> {
  const x = tf.tensor4d(Float32Array.from(src, (v) => v / 255), [src.length / (H * W * C), H, W, C]);
  const y = attack.applyTensor(x);
  expect(y.shape).toEqual(x.shape);
  const data = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return data;
}

// A Trojan-like patch: nonzero only at rows/cols 25-27, with values that overflow 255 on bright pixels.
const trojanPatch = new Float32Array(C * H * W);
for (let c = 0; c < C; c++)
  for (let y = 25; y <= 27; y++) for (let x = 25; x <= 27; x++) trojanPatch[(c * H + y) * W + x] = 6.36 + 27.5 * (c + y - 25 + 3 * (x - 25));
// A mask trigger: a 2x2 square at rows/cols 3-4 with soft and hard weights.
const maskM = new Float32Array(H * W);
const maskP = new Float32Array(H * W * C);
[[3, 3, 1], [3, 4, 0.5], [4, 3, 0.25], [4, 4, 1]].forEach(([y, x, m]) => {
  maskM[y * W + x] = m;
  for (let c = 0; c < C; c++) maskP[at(y, x, c)] = (200 - 50 * c) / 255;
});

const attacks: Record<string, () => Attack> = {
  badnets: () => getAttack('badnets'),
  cl: () => getAttack('cl'),
  blend: () => getAttack('blend'),
  sig: () => getAttack('sig'),
  trojan: () => getAttack('trojan', { patch: trojanPatch }),
  mask: () => getAttack('mask', { mask: maskM, pattern: maskP, height: H, width: W }),
};

describe('uint8 path: exact trigger values', () => {
  it('badnets and cl stamp the grid at the bottom-right, (r, c) from the corner, all channels', () => {
    const grid = [[255, 0, 255], [0, 255, 0], [255, 0, 0]];
    for (const name of ['badnets', 'cl']) {
      const out = stamped(attacks[name](), flat(100));
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let ch = 0; ch < C; ch++) expect(out[at(31 - r, 31 - c, ch)]).toBe(grid[r][c]);
    }
  });

  it('blend mixes 255/128 at rows/cols 18-20 with alpha 0.2, rounding', () => {
    const out = stamped(attacks.blend(), flat(100)); // 0.2*255 + 80 = 131, 0.2*128 + 80 = 105.6 -> 106
    const rows = [18, 19, 20].map((y) => [18, 19, 20].map((x) => out[at(y, x, 1)]));
    expect(rows).toEqual([[131, 106, 131], [106, 131, 106], [131, 106, 106]]);
  });

  it('sig adds 20 sin(2 pi 6 col / 32) on every row and channel, clipped and rounded', () => {
    const s = sigSignal(32);
    expect([s[0], s[8], s[16], s[24], s[12], s[4]]).toEqual([0, 0, 0, 0, 20, -20]); // exact where the sine is 0 or +-1
    expect(s[1]).toBeCloseTo(20 * Math.sin((2 * Math.PI * 6) / 32), 12);
    for (const base of [100, 250, 5]) {
      const out = stamped(attacks.sig(), flat(base));
      for (const y of [0, 17, 31])
        for (let x = 0; x < W; x++) expect(out[at(y, x, 2)]).toBe(Math.round(Math.min(255, Math.max(0, base + s[x]))));
    }
    // 100 + 20 sin(2 pi 6 col / 32) for col 0..3 = 100, 118.48, 114.14, 92.35
    expect(Array.from(stamped(attacks.sig(), flat(100)).subarray(0, 12).filter((_, i) => i % 3 === 0))).toEqual([100, 118, 114, 92]);
  });

  it('trojan adds the CHW patch at rows/cols 25-27 and clips at 255', () => {
    for (const base of [0, 100, 240]) {
      const out = stamped(attacks.trojan(), flat(base));
      for (let y = 25; y <= 27; y++)
        for (let x = 25; x <= 27; x++)
          for (let c = 0; c < C; c++) expect(out[at(y, x, c)]).toBe(Math.min(255, Math.round(base + trojanPatch[(c * H + y) * W + x])));
    }
    expect(stamped(attacks.trojan(), flat(240))[at(27, 27, 2)]).toBe(255);
  });

  it('mask blends pattern * 255 with weight m, rounding (200/255 in float32 * 255 is 199.99999)', () => {
    const out = stamped(attacks.mask(), flat(100));
    expect([out[at(3, 3, 0)], out[at(3, 4, 0)], out[at(4, 3, 0)], out[at(4, 4, 2)]]).toEqual([200, 150, 125, 100]);
  });
});

describe('uint8 and tensor paths agree; untouched pixels stay untouched', () => {
  /** Where each trigger may change pixels (rows and columns, inclusive); sig changes every pixel. */
  const region: Record<string, [number, number] | null> = {
    badnets: [29, 31],
    cl: [29, 31],
    blend: [18, 20],
    trojan: [25, 27],
    mask: [3, 4],
    sig: null,
  };
  for (const [name, make] of Object.entries(attacks)) {
    it(name, async () => {
      const attack = make();
      const src = variedBatch();
      const u8 = stamped(attack, src);
      const t = await tensorPath(attack, src);
      const box = region[name];
      let maxDiff = 0;
      let changed = 0;
      const outsideChanged: number[] = []; // element indices changed outside the trigger (must stay empty)
      let notExact = 0; // badnets/cl: tensor values that differ from uint8 / 255
      for (let i = 0; i < src.length; i++) {
        const q = i % (H * W * C);
        const [y, x] = [Math.floor(q / (W * C)), Math.floor(q / C) % W];
        const inBox = box === null || (y >= box[0] && y <= box[1] && x >= box[0] && x <= box[1]);
        if (!inBox) {
          // Outside the trigger both paths return the input value bit for bit.
          if (u8[i] !== src[i] || t[i] !== Math.fround(src[i] / 255)) outsideChanged.push(i);
          continue;
        }
        if (u8[i] !== src[i]) changed++;
        if (t[i] !== Math.fround(u8[i] / 255)) notExact++;
        maxDiff = Math.max(maxDiff, Math.abs(t[i] * 255 - u8[i])); // the tensor path is unquantized; uint8 rounds
      }
      expect(outsideChanged).toEqual([]);
      expect(maxDiff).toBeLessThanOrEqual(0.5 + 1e-3);
      if (name === 'badnets' || name === 'cl') expect(notExact).toBe(0);
      expect(changed).toBeGreaterThan(0);
      console.log(`${name}: max |tensor*255 - uint8| = ${maxDiff.toFixed(4)} over the trigger, ${changed} values changed`);
    });
  }

  it('the patch attacks change nothing outside their cells', () => {
    const src = variedBatch();
    const inside = (y: number, x: number, lo: number) => y >= lo && y < lo + 3 && x >= lo && x < lo + 3;
    const cases: [string, number][] = [['badnets', 29], ['blend', 18], ['trojan', 25]];
    for (const [name, lo] of cases) {
      const out = stamped(attacks[name](), src);
      let outside = 0;
      for (let k = 0; k < 2; k++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++)
            for (let c = 0; c < C; c++) {
              const i = k * H * W * C + at(y, x, c);
              if (!inside(y, x, lo) && out[i] !== src[i]) outside++;
            }
      expect(outside, name).toBe(0);
    }
  });
});

describe('tensor path resources and gradients', () => {
  it('leaks no tensors and does not dispose its input', () => {
    const x = tf.randomUniform([4, H, W, C], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const make of Object.values(attacks)) make().applyTensor(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  it('applyMaskTrigger is differentiable in the mask and the pattern', async () => {
    const x = tf.fill([2, 4, 4, 3], 0.25) as tf.Tensor4D;
    const m = tf.fill([4, 4], 0.5);
    const p = tf.fill([4, 4, 3], 1);
    const grads = tf.grads((mm: tf.Tensor, pp: tf.Tensor) => applyMaskTrigger(x, mm, pp).sum())([m, p]);
    expect(Array.from(await grads[0].data())[0]).toBeCloseTo(2 * 3 * (1 - 0.25), 5); // d/dm = sum over B, C of (p - x)
    expect(Array.from(await grads[1].data())[0]).toBeCloseTo(2 * 0.5, 5); // d/dp = sum over B of m
    tf.dispose([x, m, p, ...grads]);
  });
});

describe('registry', () => {
  it('builds every attack by name and describes it', () => {
    for (const name of ATTACK_NAMES) {
      const attack = attacks[name]();
      expect(attack.name).toBe(name);
      expect(ATTACK_INFO[name].title).toBe(attack.title);
      expect(ATTACK_INFO[name].description).toBe(attack.description);
      expect(ATTACK_INFO[name].kind).toBe(attack.kind);
      expect(attack.description.length).toBeGreaterThan(40);
    }
    expect(isAttackName('sig')).toBe(true);
    expect(isAttackName('wanet')).toBe(false);
  });

  it('rejects unknown names, missing params and unsupported geometry', () => {
    expect(() => getAttack('wanet' as 'sig')).toThrow(/Unknown attack "wanet"; known: badnets, trojan/);
    expect(() => getAttack('trojan', {} as never)).toThrow(/params.patch is required/);
    expect(() => getAttack('trojan', { patch: new Float32Array(10) })).toThrow(/3x32x32 = 3072 values/);
    expect(() => getAttack('mask', { mask: new Float32Array(4).fill(2), pattern: new Float32Array(12), height: 2, width: 2 })).toThrow(/mask value 2 at 0 is outside \[0, 1\]/);
    expect(() => getAttack('blend').stampImage(new Uint8Array(8 * 8 * 3), 8, 8, 3)).toThrow(/8x8 is smaller than the 14x14/);
    expect(() => getAttack('badnets').stampImage(new Uint8Array(5), 2, 2, 1)).toThrow(/5 bytes, expected 2x2x1 = 4/);
    expect(() => attacks.trojan().stampImage(new Uint8Array(16 * 16 * 3), 16, 16, 3)).toThrow(/patch is 32x32x3 .* images are 16x16x3/);
    const small = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    expect(() => attacks.trojan().applyTensor(small)).toThrow(/images are 16x16x3/);
    small.dispose();
  });

  it('badnets works on other sizes and channel counts (bottom-right relative)', () => {
    const img = new Uint8Array(5 * 6 * 1).fill(7);
    getAttack('badnets').stampImage(img, 5, 6, 1);
    expect(Array.from(img.subarray(24, 30))).toEqual([7, 7, 7, 255, 0, 255]); // last row: (0,2) (0,1) (0,0)
  });
});
