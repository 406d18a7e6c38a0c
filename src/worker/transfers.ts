/** Which buffers of a worker message travel by transfer instead of by copy. */

/**
 * The buffers of an event's typed arrays, to transfer instead of copy. The engine gives every event arrays of its
 * own (fresh reads or copies), so they can go; a view into a larger buffer is left to the structured clone.
 */
export function eventTransfers(event: object): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(event)) {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && !out.includes(v.buffer)) out.push(v.buffer);
  }
  return out;
}
