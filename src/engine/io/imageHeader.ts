/**
 * An image's pixel size read off its header, before anything is decoded, so a small file that declares a huge
 * image is refused up front (a 746 KB PNG of 16000x16000 decodes to 3.4 GB; a 1 KB run-length-encoded BMP of the
 * same size, to 1 GB). Read: PNG (IHDR), JPEG (the first SOFn marker), GIF (the logical screen and every frame,
 * since browsers grow the canvas to fit a frame that overhangs it), BMP (the DIB header) and WebP (VP8, VP8L or
 * VP8X). Browsers sniff the format from the bytes, not the file name, so a file whose header is none of these is
 * refused rather than handed to a decoder whose caps nobody checked (ICO, AVIF, TIFF, ...).
 */

/** Most pixels one image may have: 4096 x 4096 (64 MiB of RGBA while decoding). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/** The formats whose headers are read. */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'bmp' | 'webp';

/** The formats, as messages name them. */
export const IMAGE_FORMATS_TEXT = 'PNG, JPEG, GIF, BMP or WebP';

type Size = { width: number; height: number; format: ImageFormat };

function jpegSize(b: Uint8Array, view: DataView): Size | undefined {
  let p = 2;
  while (p + 9 < b.length) {
    if (b[p] !== 0xff) return undefined;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++;
      continue;
    }
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): height then width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: view.getUint16(p + 7), height: view.getUint16(p + 5), format: 'jpeg' };
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    p += 2 + view.getUint16(p + 2);
  }
  return undefined;
}

/** The logical screen grown to hold every frame (a frame's offset plus its size), or undefined when cut short. */
function gifSize(b: Uint8Array, view: DataView): Size | undefined {
  let width = view.getUint16(6, true);
  let height = view.getUint16(8, true);
  let p = 13 + (b[10] & 0x80 ? 3 << ((b[10] & 7) + 1) : 0);
  /** Skips data sub-blocks (a length byte, that many bytes, ... until a zero length). */
  const skipBlocks = () => {
    while (p < b.length && b[p] !== 0) p += 1 + b[p];
    p++;
  };
  while (p < b.length) {
    const kind = b[p];
    if (kind === 0x3b) break; // trailer
    if (kind === 0x21) {
      p += 2; // extension introducer and label
      skipBlocks();
    } else if (kind === 0x2c) {
      if (p + 10 > b.length) return undefined;
      width = Math.max(width, view.getUint16(p + 1, true) + view.getUint16(p + 5, true));
      height = Math.max(height, view.getUint16(p + 3, true) + view.getUint16(p + 7, true));
      const flags = b[p + 9];
      p += 10 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0) + 1; // local colour table, LZW minimum code size
      skipBlocks();
    } else return undefined;
  }
  return { width, height, format: 'gif' };
}

function webpSize(b: Uint8Array, view: DataView, ascii: (from: number, n: number) => string): Size | undefined {
  const chunk = ascii(12, 4);
  if (chunk === 'VP8 ' && b.length >= 30) return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff, format: 'webp' };
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, format: 'webp' };
  }
  const u24 = (at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
  if (chunk === 'VP8X' && b.length >= 30) return { width: u24(24) + 1, height: u24(27) + 1, format: 'webp' };
  return undefined;
}

/** Width and height from the header, or undefined when the format is not one of those read or the header is cut short. */
export function imageHeaderSize(b: Uint8Array): Size | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (from: number, n: number) => String.fromCharCode(...b.subarray(from, from + n));
  if (b.length >= 24 && ascii(0, 8) === '\x89PNG\r\n\x1a\n' && ascii(12, 4) === 'IHDR') {
    return { width: view.getUint32(16), height: view.getUint32(20), format: 'png' };
  }
  if (b.length >= 13 && ascii(0, 4) === 'GIF8') return gifSize(b, view);
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b, view);
  if (b.length >= 26 && ascii(0, 2) === 'BM') {
    // BITMAPCOREHEADER (12 bytes): 16-bit sizes; the later ones (40 bytes and up): 32-bit, a negative height is top-down.
    if (view.getUint32(14, true) === 12) return { width: view.getUint16(18, true), height: view.getUint16(20, true), format: 'bmp' };
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)), format: 'bmp' };
  }
  if (b.length >= 16 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return webpSize(b, view, ascii);
  return undefined;
}

/**
 * Refuses an image whose header is not one of the formats read (or is cut short), declares more than `maxPixels`,
 * or is a PNG without its end marker (truncated).
 * @param name labels the message
 * @throws Error "image X is 16000x16000 pixels; at most 16,777,216 pixels (4096x4096) are read"
 */
export function checkImageHeader(b: Uint8Array, name: string, maxPixels = MAX_IMAGE_PIXELS): void {
  const size = imageHeaderSize(b);
  if (!size) {
    const first = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`image ${name} is not a ${IMAGE_FORMATS_TEXT} image, or its header is cut short (it starts with the bytes ${first || '(none: the file is empty)'}): only these formats are read, their size checked from the header first`);
  }
  if (size.width * size.height > maxPixels) {
    const side = Math.floor(Math.sqrt(maxPixels));
    throw new Error(`image ${name} is ${size.width}x${size.height} pixels; at most ${maxPixels.toLocaleString('en')} pixels (${side}x${side}) are read: scale it down first`);
  }
  if (size.format === 'png') {
    // "IEND" near the end (8 bytes before it when nothing trails the image; some writers append a few bytes).
    const tail = String.fromCharCode(...b.subarray(Math.max(0, b.length - 1024)));
    if (!tail.includes('IEND')) throw new Error(`image ${name} is truncated: the PNG ends before its end marker (IEND)`);
  }
}
