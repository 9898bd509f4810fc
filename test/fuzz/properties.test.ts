// The fuzz targets of fuzz/targets.ts as property tests, with few enough runs to keep `npm test` quick
// (`npm run fuzz` runs the same properties millions of times). fast-check picks a new seed each run and
// prints it, with the shrunk input, when a property fails; `npm run fuzz -- --seed N` replays a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TARGETS, createStats } from '../../fuzz/targets.js';

const RUNS: Record<string, number> = {
  'parser-roundtrip': 300,
  'parser-mutate': 1500,
  'parser-noise': 500,
  'parser-utf8': 500,
  handshake: 1000,
  extensions: 500,
  negotiation: 500,
  inflate: 60,
  connection: 60,
  'relay-http': 300,
  'relay-v1': 100,
  'relay-replay': 25,
  'client-handshake': 150,
};

for (const target of TARGETS) {
  test(`${target.name}: ${target.about}`, async () => {
    const stats = createStats();
    const runs = RUNS[target.name];
    assert.ok(runs, `no run count for ${target.name}`);
    try {
      await fc.assert(target.property(stats), { numRuns: runs });
    } finally {
      await target.dispose?.();
    }
    assert.ok(stats.inputs >= runs, `${stats.inputs} inputs counted`);
  });
}

test('the parser fuzzers reach every rejection: 1002, 1007 and 1009', () => {
  const stats = createStats();
  const target = TARGETS.find((t) => t.name === 'parser-mutate')!;
  fc.assert(target.property(stats), { numRuns: 1500, seed: 1 });
  for (const code of [1002, 1007, 1009])
    assert.ok((stats.outcomes.get(`parser-mutate error:${code}`) ?? 0) > 0, `no ${code} in ${JSON.stringify([...stats.outcomes])}`);
  assert.ok((stats.outcomes.get('parser-mutate close') ?? 0) > 0);
});
