/**
 * An image's pixel size read off its header, before anything is decoded, so a small file that declares a huge
 * image (a 746 KB PNG of 16000x16000 decodes to 3.4 GB) is refused up front. PNG (IHDR), JPEG (the first SOFn
 * marker) and GIF (logical screen) are read; other formats return undefined and are left to the decoder's caps.
 */

/** Most pixels one image may have: 4096 x 4096 (64 MiB of RGBA while decoding). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/** Width and height from the header, or undefined when the format is not recognized or the header is cut short. */
export function imageHeaderSize(b: Uint8Array): { width: number; height: number; format: 'png' | 'jpeg' | 'gif' } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (from: number, n: number) => String.fromCharCode(...b.subarray(from, from + n));
  if (b.length >= 24 && ascii(0, 8) === '\x89PNG\r\n\x1a\n' && ascii(12, 4) === 'IHDR') {
    return { width: view.getUint32(16), height: view.getUint32(20), format: 'png' };
  }
  if (b.length >= 10 && ascii(0, 4) === 'GIF8') return { width: view.getUint16(6, true), height: view.getUint16(8, true), format: 'gif' };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
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
  }
  return undefined;
}

/**
 * Refuses an image whose header declares more than `maxPixels`, or a PNG without its end marker (truncated).
 * @param name labels the message
 * @throws Error "image X is 16000x16000 pixels; at most 16,777,216 pixels (4096x4096) are read"
 */
export function checkImageHeader(b: Uint8Array, name: string, maxPixels = MAX_IMAGE_PIXELS): void {
  const size = imageHeaderSize(b);
  if (!size) return;
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
