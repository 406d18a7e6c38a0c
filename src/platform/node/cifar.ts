/**
 * CIFAR-10 from the shared JPEG tarball: extracted once into the cache (the same folder the PyTorch zoo uses,
 * .cache/cifar10/jpg), decoded once into MCLDSET1 shards (.cache/cifar10/<split>.mcld).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../../engine/data/dataset';
import { loadImageFolderCached } from './imageFolder';
import { cacheDir, sharedDir } from './paths';


/** Folder holding train/ and test/ JPEG trees, extracting the shared tarball on first use. */
export function cifarJpegRoot(): string {
  const env = process.env.MCLDEF_CIFAR_DIR;
  if (env && fs.existsSync(path.join(env, 'test'))) return env;
  const root = path.join(cacheDir(), 'cifar10', 'jpg');
  const done = path.join(root, '.extracted');
  if (!fs.existsSync(done)) {
    const tarball = path.join(sharedDir(), 'datasets', 'cifar10-jpg.tar.gz');
    if (!fs.existsSync(tarball)) {
      throw new Error(`CIFAR-10 not found: expected ${tarball} (set MCLDEF_SHARED to the shared folder, or MCLDEF_CIFAR_DIR to an extracted copy)`);
    }
    fs.mkdirSync(root, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', root, 'train', 'test'], { stdio: 'inherit' });
    fs.writeFileSync(done, '');
  }
  return root;
}

/** Loads a CIFAR-10 split (class-sorted, then file-name-sorted), from the decoded cache when it is current. */
export async function loadCifar10(split: 'train' | 'test'): Promise<Dataset> {
  const root = path.join(cifarJpegRoot(), split);
  const { dataset } = await loadImageFolderCached(root, path.join(cacheDir(), 'cifar10', `${split}.mcld`), { expectSize: [32, 32] });
  return dataset;
}
