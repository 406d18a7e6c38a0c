/** Where the project's files live on disk: the repo root, the shared data folder and the local cache. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above src/platform/node). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The shared folder (data set, trigger files): $MCLDEF_SHARED, else ../shared beside the repo. */
export function sharedDir(): string {
  return process.env.MCLDEF_SHARED ?? path.resolve(repoRoot, '..', 'shared');
}

/** The git-ignored cache folder for derived data (extracted images, decoded shards). */
export function cacheDir(): string {
  return process.env.MCLDEF_CACHE ?? path.join(repoRoot, '.cache');
}
