// Yjs and its friends are optional peers that only the documents load: `import 'wavecast'` (and the
// relay until documents start) must not reach them. Checked on the built package: the static imports
// of dist/index.js, followed through every file they reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ROOT } from './relay-process.js';

function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  // `import … from '…'`, `export … from '…'` and `import '…'`; dynamic import() is left out on purpose.
  return [...source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)].map(
    (m) => (m[1] ?? m[2])!,
  );
}

function reach(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:')) packages.add(specifier);
    }
  }
  return { files, packages };
}

test("import 'wavecast' and the relay reach no package at all, Yjs included, until documents start", () => {
  for (const entry of ['dist/index.js', 'dist/relay/relay.js', 'dist/cli/serve.js']) {
    const { files, packages } = reach(resolve(ROOT, entry));
    assert.ok(files.size > 3, `${entry} was followed (${files.size} files)`);
    assert.deepEqual([...packages], [], `${entry} imports packages statically`);
  }
  // The documents' service does import them (so the check above would see it, were it reached).
  assert.ok(reach(resolve(ROOT, 'dist/relay/docs/service.js')).packages.has('yjs'));
});
