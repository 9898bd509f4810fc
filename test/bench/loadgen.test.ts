// The library scenarios' new generator kinds against real servers, in miniature: memory after traffic
// (every connection's messages echoed and its ping answered before the snapshot), one publish at a time
// and the steady fan-out (every delivery timed, each matched to its publish).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runGenerator } from './helpers.js';

for (const [script, args] of [
  ['wslike.js', ['wavecast', 'echo']],
  ['raw.js', ['echo', 'http']],
] as const) {
  test(`memory after traffic (${script} ${args.join(' ')}): every connection's messages and ping answered before the snapshot`, {
    timeout: 60_000,
  }, async () => {
    const run = await runGenerator(script, [...args], { kind: 'idle', connections: 50, traffic: 3 });
    assert.equal(run.connections, 50);
    assert.match(run.verified, /50 handshakes checked; 3 messages echoed and a ping answered on each/);
  });
}

test('one publish at a time to 20 subscribers: every delivery timed, the time to the last one per publish', {
  timeout: 60_000,
}, async () => {
  const { result, verified } = await runGenerator('wslike.js', ['wavecast', 'publish'], { kind: 'fanout' });
  assert.match(verified, /echoed payload matches/);
  assert.ok(result.messages >= 20, `${result.messages} deliveries`);
  assert.equal(result.percentiles?.count, result.messages);
  assert.ok(result.latenciesMs.length > 0 && result.latenciesMs.length <= result.messages / 20 + 1);
  // The last subscriber of a publish cannot have had it before the median one.
  assert.ok(result.percentiles!.p50 <= Math.max(...result.latenciesMs));
});

test('steady fan-out at 100 publishes/s to 20 subscribers: each delivery matched to its publish', { timeout: 60_000 }, async () => {
  const { result } = await runGenerator('raw.js', ['publish'], { kind: 'steady', rate: 100, measureMs: 500 });
  assert.ok(result.sent > 0 && result.messages > 0);
  assert.equal(result.percentiles?.count, result.messages);
  assert.equal(result.lost, 0);
});
