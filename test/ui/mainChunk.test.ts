/**
 * TensorFlow.js stays out of the page's main-thread chunk: the engine runs in the worker, and the page needs only
 * types and plain data from it. Walks the static import graph from the page entry (src/ui/main.tsx) with the
 * TypeScript parser, as the bundler sees it: type-only imports are erased, dynamic import() and the worker's
 * `new URL(...)` start chunks of their own. The same walk from the worker entry must find TensorFlow.js, so the
 * check is known to see it.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/fixtures';

/** Static value imports of one module: relative paths resolved to files, bare package names as they are. */
function staticImports(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out: string[] = [];
  for (const st of src.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : null;
      // Erased: `import type`, and imports whose every name is a type (isolatedModules, no verbatimModuleSyntax).
      if (c?.isTypeOnly || (c && !c.name && named && named.length > 0 && named.every((e) => e.isTypeOnly))) continue;
      spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
      const named = st.exportClause && ts.isNamedExports(st.exportClause) ? st.exportClause.elements : null;
      if (st.isTypeOnly || (named && named.length > 0 && named.every((e) => e.isTypeOnly))) continue;
      spec = st.moduleSpecifier;
    }
    if (spec && ts.isStringLiteral(spec)) out.push(spec.text);
  }
  return out;
}

function resolve(from: string, spec: string): string | null {
  const bare = spec.split('?')[0];
  const base = path.resolve(path.dirname(from), bare);
  for (const f of [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')]) if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
  return null;
}

/** Every module reachable by static imports from `entry`, and the packages they import. */
function reachable(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // package -> first importer
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of staticImports(f)) {
      if (spec.startsWith('.')) {
        const r = resolve(f, spec);
        if (!r) throw new Error(`${path.relative(repoRoot, f)}: cannot resolve ${spec}`);
        if (/\.(ts|tsx)$/.test(r)) todo.push(r);
      } else if (!packages.has(spec)) packages.set(spec, path.relative(repoRoot, f));
    }
  }
  return { files, packages };
}

const rel = (s: Set<string>) => [...s].map((f) => path.relative(repoRoot, f));

describe('the main-thread chunk', () => {
  it('reaches no TensorFlow.js module from the page entry', () => {
    const { files, packages } = reachable(path.join(repoRoot, 'src/ui/main.tsx'));
    const tfjs = [...packages].filter(([p]) => p.startsWith('@tensorflow/')).map(([p, by]) => `${p} (imported by ${by})`);
    expect(tfjs).toEqual([]);
    // Not vacuous: the walk saw the page, its store and the engine client.
    expect(rel(files)).toEqual(expect.arrayContaining(['src/ui/App.tsx', 'src/ui/store.ts', 'src/worker/client.ts', 'src/ui/components/Controls.tsx', 'src/ui/settings.ts']));
    expect(rel(files)).not.toContain('src/worker/host.ts');
  });

  it('sees TensorFlow.js where it belongs: from the worker entry', () => {
    const { packages } = reachable(path.join(repoRoot, 'src/worker/engine.worker.ts'));
    expect([...packages.keys()]).toContain('@tensorflow/tfjs');
  });
});
