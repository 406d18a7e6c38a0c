/** Test helpers: small deterministic PNG images (a seeded colour ramp), as bytes or written into a folder. */
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';

/** PNG bytes of a `size` x `size` opaque image whose pixels depend on `seed`. */
export function pngBytes(size: number, seed: number): Uint8Array {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 37 + seed * 101) % 256;
  return PNG.sync.write(png);
}

/** Writes {@link pngBytes} to `file`, creating its folder. */
export function writePng(file: string, size: number, seed: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, pngBytes(size, seed));
}
