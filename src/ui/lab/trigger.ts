/**
 * The attack lab's trigger as the page edits it: a size x size RGBA buffer (alpha is the mask, as
 * engine/attacks/rgba.ts reads it), with the pencil, the eraser, the stamps (grid, square, cross, noise), and a
 * compact text form for the page address. Pure: no DOM.
 */

/** The trigger's side in pixels (the shipped models take 32x32 images). */
export const TRIGGER_SIZE = 32;

/** A blank (fully transparent) trigger. */
export function blankTrigger(size = TRIGGER_SIZE): Uint8Array {
  return new Uint8Array(size * size * 4);
}

/** A colour as [r, g, b] from "#rrggbb". */
export function parseColour(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a colour: ${hex} (expected #rrggbb)`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/** Sets one pixel (returns a new buffer); outside the image does nothing. alpha 0 erases. */
export function paint(rgba: Uint8Array, row: number, col: number, rgb: readonly number[], alpha: number, size = TRIGGER_SIZE): Uint8Array {
  if (row < 0 || col < 0 || row >= size || col >= size) return rgba;
  const out = rgba.slice();
  const i = 4 * (row * size + col);
  if (alpha <= 0) out.set([0, 0, 0, 0], i);
  else out.set([rgb[0], rgb[1], rgb[2], Math.min(255, Math.round(alpha))], i);
  return out;
}

/** The stamps the editor offers. */
export type StampName = 'grid' | 'square' | 'cross' | 'noise';
export const STAMPS: readonly StampName[] = ['grid', 'square', 'cross', 'noise'];

/**
 * Stamps a `n` x `n` shape with its top-left pixel at (row, col), clipped to the image: grid (checkerboard of the
 * colour and its complement, BadNets-like), square (solid), cross (the colour's middle row and column, white
 * elsewhere), noise (random colours from `seed`). Returns a new buffer.
 */
export function stamp(rgba: Uint8Array, name: StampName, row: number, col: number, n: number, rgb: readonly number[], alpha: number, seed = 1, size = TRIGGER_SIZE): Uint8Array {
  let out = rgba;
  let s = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32: a few bytes of noise, reproducible from the seed.
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) & 255;
  };
  const mid = [Math.floor((n - 1) / 2), Math.floor(n / 2)];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      let px: readonly number[] = rgb;
      if (name === 'grid') px = (r + c) % 2 === 0 ? rgb : rgb.map((v) => 255 - v);
      else if (name === 'cross') px = mid.includes(r) || mid.includes(c) ? rgb : [255, 255, 255];
      else if (name === 'noise') px = [rand(), rand(), rand()];
      out = paint(out, row + r, col + c, px, alpha, size);
    }
  }
  return out;
}

/** Pixels the trigger touches (alpha > 0). */
export function coveredPixels(rgba: Uint8Array): number {
  let n = 0;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] > 0) n++;
  return n;
}

/** Above this many pixels the trigger stays out of the page address (the PNG carries it instead). */
export const ADDRESS_MAX_PIXELS = 64;

function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/**
 * The trigger for the page address: 6 bytes per covered pixel (index as 2 bytes, r, g, b, alpha), base64url; null
 * when it covers more than {@link ADDRESS_MAX_PIXELS} pixels.
 */
export function encodeTrigger(rgba: Uint8Array): string | null {
  const n = coveredPixels(rgba);
  if (n === 0 || n > ADDRESS_MAX_PIXELS) return null;
  const out = new Uint8Array(n * 6);
  let k = 0;
  for (let q = 0; q < rgba.length / 4; q++) {
    if (rgba[4 * q + 3] === 0) continue;
    out.set([q >> 8, q & 255, rgba[4 * q], rgba[4 * q + 1], rgba[4 * q + 2], rgba[4 * q + 3]], 6 * k++);
  }
  return toBase64Url(out);
}

/**
 * Reads {@link encodeTrigger}'s text back.
 * @throws Error when the text is not a trigger of this size
 */
export function decodeTrigger(text: string, size = TRIGGER_SIZE): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(text);
  } catch {
    throw new Error('the trigger in the address is not valid base64url');
  }
  if (bytes.length === 0 || bytes.length % 6 !== 0) throw new Error(`the trigger in the address has ${bytes.length} bytes, expected a multiple of 6`);
  const rgba = blankTrigger(size);
  for (let k = 0; k < bytes.length; k += 6) {
    const q = (bytes[k] << 8) | bytes[k + 1];
    if (q >= size * size) throw new Error(`the trigger in the address names pixel ${q}, outside the ${size}x${size} image`);
    rgba.set(bytes.subarray(k + 2, k + 6), 4 * q);
  }
  return rgba;
}
