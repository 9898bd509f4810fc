// A small soak (the full one is `npm run soak`): a few hundred connections from a load generator in a
// child process, churned while the server publishes, then a graceful shutdown. Nothing published before
// the shutdown is lost, every connection closes with 1001, none is left open on either side, and the
// server's heap returns near where it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../soak/run.js';

test('publishing to 400 churning connections, then close({ code: 1001 }): nothing lost, nothing half-open, heap back', {
  timeout: 120_000,
}, async () => {
  const report = await runSoak({
    connections: 400,
    durationMs: 2000,
    topics: 20,
    publishPerSecond: 300,
    broadcastPerSecond: 5,
    churnPerSecond: 100,
    payloadBytes: 64,
    closeTimeoutMs: 10_000,
  });
  const { load, memory } = report;
  assert.equal(load.failedOpens, 0);
  assert.ok(load.churned > 0, 'connections were churned');
  assert.ok(load.received > 0 && report.published > 300, `published ${report.published}, received ${load.received}`);
  assert.equal(load.checked, 400, 'every connection open at shutdown is checked');
  assert.equal(load.lost, 0, 'messages published before the shutdown were lost');
  assert.equal(load.disorder, 0);
  assert.deepEqual(load.closes, { '1001': 400 });
  assert.equal(load.stillOpen, 0);
  assert.equal(report.serverClientsAfter, 0);
  assert.equal(report.tcpHandlesAfter, 0);
  assert.ok(memory.heapEnd - memory.heapStart < 8 * 1024 * 1024, `heap ${memory.heapStart} at start, ${memory.heapEnd} after`);
});
