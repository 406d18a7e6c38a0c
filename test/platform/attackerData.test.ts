/** The attack lab's training images (public/data/attacker-5pct.mcld) share no image with the defender's 5%. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classCounts, imageSize } from '../../src/engine/data/dataset';
import { decodeShard, readShardHeader } from '../../src/engine/data/shard';
import { repoRoot } from '../helpers/fixtures';

const load = (name: string) => fs.readFileSync(path.join(repoRoot, 'public', 'data', name));

describe("the attacker's share", () => {
  it('holds 250 images per class, none of them in the defender\'s clean-5pct.mcld', () => {
    const bytes = load('attacker-5pct.mcld');
    const attacker = decodeShard(bytes);
    const defender = decodeShard(load('clean-5pct.mcld'));
    expect(classCounts(attacker)).toEqual(Array(10).fill(250));
    expect(readShardHeader(bytes).meta).toMatchObject({ disjointFrom: 'clean-5pct.mcld', perClass: 250, seed: 0 });
    const size = imageSize(defender);
    const key = (ds: typeof defender, i: number) => Buffer.from(ds.images.subarray(i * size, (i + 1) * size)).toString('base64');
    const seen = new Set(Array.from({ length: defender.n }, (_, i) => key(defender, i)));
    const shared = Array.from({ length: attacker.n }, (_, i) => key(attacker, i)).filter((k) => seen.has(k));
    expect(shared).toHaveLength(0);
  });
});
