/**
 * Derives the demo data the web app ships from the shared CIFAR-10 copy:
 *   public/data/clean-5pct.mcld  the 5% clean training split MCLDef defends with (250 per class, seeded)
 *   public/data/test-1k.mcld     a live-evaluation subset of the test set (100 per class, seeded)
 *   public/data/attacker-5pct.mcld  the attack lab's training images: another 250 per class of the training set,
 *                                drawn from the images the defender's 5% left out (disjoint from it, seeded)
 * Both in the engine's MCLDSET1 shard format. The full test set stays out of the app (the CLI reads it from the
 * shared copy as cifar10:test).
 *
 * Run: npm run data:demo   (same output for the same seed; --seed N to change it)
 */
import fs from 'node:fs';
import path from 'node:path';
import { classBalancedSplit, subset } from '../../src/engine/data/dataset';
import { encodeShard } from '../../src/engine/data/shard';
import { createRng } from '../../src/engine/random';
import { loadCifar10 } from '../../src/platform/node/cifar';
import { repoRoot } from '../../src/platform/node/paths';

const seedArg = process.argv.indexOf('--seed');
const seed = seedArg > 0 ? Number(process.argv[seedArg + 1]) : 0;
const outDir = path.join(repoRoot, 'public', 'data');
fs.mkdirSync(outDir, { recursive: true });

async function write(split: 'train' | 'test', perClass: number, file: string, purpose: string, attackerPerClass = 0): Promise<void> {
  const ds = await loadCifar10(split);
  const { selected, rest } = classBalancedSplit(ds, perClass, createRng(seed).fork(`demo-${split}`));
  const save = (name: string, indices: ArrayLike<number>, per: number, what: string, extra: Record<string, unknown> = {}) => {
    const part = subset(ds, indices);
    const bytes = encodeShard(part, { source: `cifar10-jpg ${split}`, perClass: per, seed, purpose: what, indices: 'class-sorted, name-sorted order of the source split', ...extra });
    fs.writeFileSync(path.join(outDir, name), bytes);
    console.log(`wrote public/data/${name}: ${part.n} images (${per} per class) from ${split}, ${(bytes.length / 1e6).toFixed(2)} MB`);
  };
  save(file, selected, perClass, purpose);
  if (attackerPerClass > 0) {
    // The attacker's images come from what the defender's draw left out, so the two shares never overlap.
    const restSet = subset(ds, rest);
    const pick = classBalancedSplit(restSet, attackerPerClass, createRng(seed).fork(`attacker-${split}`)).selected;
    save('attacker-5pct.mcld', Array.from(pick, (j) => rest[j]), attackerPerClass, "the attack lab's training images, disjoint from the defender's 5%", { disjointFrom: file });
  }
}

await write('train', 250, 'clean-5pct.mcld', 'the defender\'s clean data: 5% of the training set', 250);
await write('test', 100, 'test-1k.mcld', 'live evaluation of BA and ASR in the app');
