// A small relay soak (the full one is `npm run soak -- --relay`): wavecast/browser clients in a child
// process, dropped abruptly and reconnecting while messages are published over HTTP and WebSocket; each
// gets every message of its two channels exactly once, in order, up to the latest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRelaySoak } from '../../soak/relay-run.js';

test('clients dropped and reconnecting while HTTP and WebSocket publish: every message once, in order, none lost', {
  timeout: 120_000,
}, async () => {
  const report = await runRelaySoak({
    clients: 60,
    channels: 6,
    durationMs: 2000,
    httpPerSecond: 100,
    wsPerSecond: 100,
    dropsPerSecond: 15,
    history: 1000,
  });
  const { load } = report;
  assert.ok(load.terminated + load.dropped > 10, `${load.terminated + load.dropped} drops`);
  assert.ok(load.reconnects >= load.terminated + load.dropped, `${load.reconnects} reconnects for ${load.terminated + load.dropped} drops`);
  assert.ok(
    report.httpPublished > 100 && load.published > 100,
    `published ${report.httpPublished} over HTTP, ${load.published} over WebSocket`,
  );
  assert.ok(load.received > 0);
  assert.equal(report.httpFailed, 0);
  assert.equal(load.losses, 0, 'messages lost');
  assert.equal(load.duplicates, 0, 'messages twice or out of order');
  assert.equal(load.gaps, 0, 'gaps reported');
  assert.equal(load.behind, 0, 'clients not at the latest message');
  assert.deepEqual(report.errorsLogged, []);
});
