#!/usr/bin/env node
// The project's one test command (`npm test`): checks formatting and lint (Biome, biome.jsonc), builds the
// package (`npm run build`: dist/, with the relay's chat page) and the tests, brings up what the tests need
// when it is missing (scripts/ensure-env.sh), then runs every test with Node's test runner.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
// The formatter and linter first (biome.jsonc): a whole run, only when every test is asked for.
if (filters.length === 0) run('npm', ['run', '--silent', 'lint']);
run('npm', ['run', '--silent', 'build']);
// Compiled tests of files that were moved or deleted must not run: the tests are compiled afresh.
rmSync('build', { recursive: true, force: true });
run('npx', ['tsc', '-p', 'tsconfig.json']);
if (existsSync('scripts/ensure-env.sh') && !process.env.WAVECAST_SKIP_ENV) run('bash', ['scripts/ensure-env.sh']);
let files = findTests('build/test').sort();
if (filters.length) {
  // A filter names tests as their sources or their compiled files: test/relay/v1.e2e.test.ts, relay/v1, v1.e2e.
  const wanted = filters.map((x) => x.replace(/\.ts$/, '.js'));
  files = files.filter((f) => wanted.some((x) => f.includes(x)));
  if (files.length === 0) {
    // node --test without files would run every test it finds: say so instead.
    console.error(`no test file matches ${filters.join(', ')}`);
    process.exit(1);
  }
}
// A test that hangs fails after 120 s instead of blocking the run (a test may set a timeout of its own).
run(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=120000', ...files]);
