// The package subpath wavecast/browser resolves (through package.json's exports) to the built client,
// with its types beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

test('wavecast/browser is a package export with types', async () => {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('wavecast/package.json');
  const exported = (require('wavecast/package.json') as { exports: Record<string, { types: string; default: string }> }).exports[
    './browser'
  ]!;
  assert.ok(existsSync(join(dirname(manifest), exported.types)), 'the .d.ts is built');
  const module = (await import('wavecast/browser' as string)) as Record<string, unknown>;
  assert.equal(typeof module.WavecastClient, 'function');
  assert.equal(typeof module.backoffDelay, 'function');
  assert.equal(typeof module.OfflineQueueFullError, 'function');
});
