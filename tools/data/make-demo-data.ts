/**
 * Derives the demo data the web app ships from the shared CIFAR-10 copy:
 *   public/data/clean-5pct.mcld  the 5% clean training split MCLDef defends with (250 per class, seeded)
 *   public/data/test-1k.mcld     a live-evaluation subset of the test set (100 per class, seeded)
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

async function write(split: 'train' | 'test', perClass: number, file: string, purpose: string): Promise<void> {
  const ds = await loadCifar10(split);
  const { selected } = classBalancedSplit(ds, perClass, createRng(seed).fork(`demo-${split}`));
  const part = subset(ds, selected);
  const bytes = encodeShard(part, { source: `cifar10-jpg ${split}`, perClass, seed, purpose, indices: 'class-sorted, name-sorted order of the source split' });
  fs.writeFileSync(path.join(outDir, file), bytes);
  console.log(`wrote public/data/${file}: ${part.n} images (${perClass} per class) from ${split}, ${(bytes.length / 1e6).toFixed(2)} MB`);
}

await write('train', 250, 'clean-5pct.mcld', 'the defender\'s clean data: 5% of the training set');
await write('test', 100, 'test-1k.mcld', 'live evaluation of BA and ASR in the app');
