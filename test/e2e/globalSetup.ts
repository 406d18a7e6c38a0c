/**
 * Builds the site once and serves dist/ from a plain static file server under a sub-path (/mcldef/demo/) and with
 * no special headers, as an ordinary static host would: the tests thereby also check that the build works away
 * from the host's root.
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { build } from 'vite';
import { serveStatic } from './staticServer';

const PREFIX = '/mcldef/demo/';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await build({ logLevel: 'warn' });
  const server = await serveStatic(path.resolve('dist'), PREFIX);
  project.provide('baseUrl', server.url);
  return () => server.close();
}

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}
