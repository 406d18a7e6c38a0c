/**
 * A stand-in for Chromium's DecompressionStream('deflate-raw'), for tests in Node. Chromium inflates a whole written
 * chunk at once and queues all of its output, however much nobody reads: writing a 300 KB deflate stream of zeros
 * blocked its page for over a second while 300 MB piled up (headless Chromium here, 2026-12-08). Node's own
 * DecompressionStream waits for the reader, so a reader that is safe in Node alone can still blow up a browser tab.
 * This stand-in behaves like Chromium and counts the bytes it produced; past `ceiling` it errors the stream
 * instead of allocating more (the browser would have gone on).
 */
import zlib from 'node:zlib';

/** What the stand-in saw. */
export interface EagerInflate {
  /** Bytes of output produced in all, read or not. */
  produced(): number;
  /** Puts the platform's DecompressionStream back. */
  restore(): void;
}

const CHUNK = 64 * 1024; // Chromium's output chunk size

/** Installs the stand-in as globalThis.DecompressionStream until restore(). */
export function installEagerInflate(ceiling = 256 * 2 ** 20): EagerInflate {
  const g = globalThis as { DecompressionStream?: unknown };
  const original = g.DecompressionStream;
  let produced = 0;
  g.DecompressionStream = class {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    constructor(format: string) {
      if (format !== 'deflate-raw') throw new Error(`stand-in: format ${format}`);
      const input: Uint8Array[] = [];
      let emitted = 0;
      // Inflates everything written so far (zlib has no resumable sync API), and queues the new output at once.
      const ts = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          input.push(chunk);
          let out: Buffer;
          try {
            out = zlib.inflateRawSync(Buffer.concat(input), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: ceiling });
          } catch (e) {
            if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
              produced += ceiling - emitted;
              throw new Error(`stand-in: the browser would now hold more than ${ceiling} bytes of output`);
            }
            throw e;
          }
          for (let p = emitted; p < out.length; p += CHUNK) controller.enqueue(new Uint8Array(out.subarray(p, Math.min(out.length, p + CHUNK))));
          produced += out.length - emitted;
          emitted = out.length;
        },
      });
      this.readable = ts.readable;
      this.writable = ts.writable;
    }
  };
  return {
    produced: () => produced,
    restore: () => {
      g.DecompressionStream = original;
    },
  };
}
