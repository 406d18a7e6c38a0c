import { describe, expect, it } from 'vitest';
import { createDataset, type Dataset } from '../../../src/engine/data/dataset';
import { decodeShard, encodeShard, readShardHeader, SHARD_MAGIC } from '../../../src/engine/data/shard';
import { syntheticDataset } from './synthetic';

const expectSame = (a: Dataset, b: Dataset): void => {
  expect({ ...b, images: undefined, labels: undefined }).toEqual({ ...a, images: undefined, labels: undefined });
  expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
  expect(b.images).toEqual(a.images);
};

/** Builds a shard by hand: magic, a JSON header, then the given payload bytes. */
function handMade(header: unknown, payload: number[], magic = SHARD_MAGIC): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + json.length + payload.length);
  for (let i = 0; i < 8; i++) out[i] = magic.charCodeAt(i);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(payload, 12 + json.length);
  return out;
}

describe('encodeShard / decodeShard', () => {
  it('round-trips a dataset with uint8 labels, the layout documented in shard.ts', () => {
    const ds = syntheticDataset(7, { h: 3, w: 5, c: 3, classes: 4 });
    const bytes = encodeShard(ds, { source: 'test', seed: 3 });
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('MCLDSET1');
    const len = new DataView(bytes.buffer).getUint32(8, true);
    expect((12 + len) % 4).toBe(0); // labels start aligned
    expect(bytes.length).toBe(12 + len + 7 + 7 * 3 * 5 * 3);
    expect(Array.from(bytes.subarray(12 + len, 12 + len + 7))).toEqual(Array.from(ds.labels));
    expect(bytes.subarray(12 + len + 7)).toEqual(ds.images);
    const header = readShardHeader(bytes);
    expect(header).toMatchObject({ n: 7, height: 3, width: 5, channels: 3, labelDtype: 'uint8', meta: { source: 'test', seed: 3 } });
    expectSame(ds, decodeShard(bytes));
    expectSame(ds, decodeShard(bytes.slice().buffer)); // ArrayBuffer input
  });

  it('uses int32 labels above 256 classes', () => {
    const classes = 300;
    const labels = [299, 0, 256, 17];
    const ds = createDataset({ images: new Uint8Array(4 * 2), labels, height: 1, width: 2, channels: 1, classNames: Array.from({ length: classes }, (_, i) => `c${i}`) });
    const bytes = encodeShard(ds);
    expect(readShardHeader(bytes).labelDtype).toBe('int32');
    expect(readShardHeader(bytes).meta).toBeUndefined();
    expectSame(ds, decodeShard(bytes));
  });

  it('decodes from a view at an odd offset and returns copies, not views', () => {
    const ds = syntheticDataset(3, { h: 2, w: 2, c: 1 });
    const shard = encodeShard(ds);
    const big = new Uint8Array(shard.length + 5);
    big.set(shard, 3);
    const view = big.subarray(3, 3 + shard.length);
    const out = decodeShard(view);
    expectSame(ds, out);
    out.images[0] ^= 0xff;
    expect(view[view.length - out.images.length]).toBe(ds.images[0]);
  });

  it('round-trips an empty dataset', () => {
    const ds = createDataset({ images: new Uint8Array(0), labels: [], height: 4, width: 4, channels: 3, classNames: ['a'] });
    expectSame(ds, decodeShard(encodeShard(ds)));
  });
});

describe('decodeShard rejects corrupt input', () => {
  const ds = syntheticDataset(4, { h: 2, w: 2, c: 3 });
  const good = encodeShard(ds);
  const header = { n: 1, height: 1, width: 1, channels: 1, classNames: ['a', 'b'], labelDtype: 'uint8' };

  it('wrong magic', () => {
    const bad = good.slice();
    bad[7] = '2'.charCodeAt(0);
    expect(() => decodeShard(bad)).toThrow(/wrong magic "MCLDSET2", expected "MCLDSET1"/);
    expect(() => decodeShard(new TextEncoder().encode('PK\u0003\u0004 not a shard at all'))).toThrow(/wrong magic/);
  });

  it('truncation anywhere', () => {
    expect(() => decodeShard(good.subarray(0, 5))).toThrow(/only 5 bytes/);
    expect(() => decodeShard(good.subarray(0, 20))).toThrow(/truncated: header says \d+ JSON bytes/);
    expect(() => decodeShard(good.subarray(0, good.length - 1))).toThrow(/truncated, \d+ bytes but the header .* needs \d+/);
  });

  it('trailing bytes (sizes inconsistent with the header)', () => {
    const longer = new Uint8Array(good.length + 2);
    longer.set(good);
    expect(() => decodeShard(longer)).toThrow(/2 unexpected bytes after the images/);
  });

  it('a malformed header', () => {
    const bad = good.slice();
    bad[12] = '['.charCodeAt(0) + 100;
    expect(() => decodeShard(bad)).toThrow(/not valid UTF-8 JSON/);
    expect(() => decodeShard(handMade([1, 2], []))).toThrow(/not a JSON object/);
    expect(() => decodeShard(handMade({ ...header, n: -1 }, []))).toThrow(/field n must be a non-negative integer/);
    expect(() => decodeShard(handMade({ ...header, classNames: 'ab' }, []))).toThrow(/classNames must be an array of strings/);
    expect(() => decodeShard(handMade({ ...header, labelDtype: 'float32' }, []))).toThrow(/labelDtype must be "uint8" or "int32"/);
  });

  it('labels out of range', () => {
    expect(() => decodeShard(handMade(header, [2, 0]))).toThrow(/label 2 at index 0 is outside \[0, 2\)/);
    expect(decodeShard(handMade(header, [1, 200])).labels[0]).toBe(1);
  });
});
