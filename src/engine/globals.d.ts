/**
 * The few web-platform globals the engine uses that exist both in browsers and in Node >= 18, declared here
 * because the engine's tsconfig deliberately has no DOM library (so it cannot reach for document or window).
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
declare const console: {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
declare function setTimeout(handler: () => void, ms?: number): unknown;
