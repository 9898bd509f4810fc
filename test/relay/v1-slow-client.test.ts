// A wavecast.v1 client that reads slower than its channel talks. Under the relay's default 'drop'
// policy it used to be skipped silently: messages it never got, with no gap to say so (found while
// writing the relay fuzz targets). It is now closed with 1013 after what was queued for it, and a rejoin
// `since` its last message recovers the rest: every message once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawV1, startRelay } from '../../fuzz/relay-harness.js';

test('a slow wavecast.v1 client is closed with 1013, not skipped, and recovers every message on rejoin', { timeout: 30_000 }, async () => {
  const r = await startRelay({ maxPayload: 65536, historyLimit: 5000 });
  try {
    const slow = await RawV1.open(r.port);
    slow.sendJson({ type: 'join', channel: 'firehose' });
    await slow.barrier();
    slow.socket.pause();
    const payload = Buffer.alloc(4000, 0x61);
    // Published a batch a turn until the relay gives up on the client (past its 4 MiB bound for one client):
    // how much the kernel's socket buffers take first depends on the machine, and what one turn sends is
    // not backlog yet, so a fixed count published at once trips the bound on some runs and not on others.
    const dropped = (): number => Number(/^wavecast_relay_dropped_messages_total (\d+)$/m.exec(r.relay.metricsText())?.[1] ?? 0);
    let total = 0;
    while (dropped() === 0 && total < 10_000) {
      for (let i = 0; i < 250; i++) r.relay.publish('firehose', payload, false, 'http');
      total += 250;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(dropped() > 0, `the relay kept ${total * payload.length} bytes for a client that does not read`);
    slow.socket.resume();
    await slow.until(() => slow.closeCode !== null, 'the slow client to be closed');
    assert.equal(slow.closeCode, 1013);
    const first = slow.envelopes.filter((e) => e.type === 'message').map((e) => e.seq as number);
    assert.ok(first.length < total, 'some messages were held back');
    assert.deepEqual(
      first,
      first.map((_, i) => i + 1),
      'what came before the close is in order, with no hole',
    );
    await slow.destroy();

    const back = await RawV1.open(r.port);
    back.sendJson({ type: 'join', channel: 'firehose', since: first.length, epoch: r.relay.history.epoch });
    await back.until(() => back.envelopes.some((e) => e.type === 'joined'), 'joined');
    const rest = back.envelopes.filter((e) => e.type === 'message').map((e) => e.seq as number);
    assert.deepEqual(
      [...first, ...rest],
      Array.from({ length: total }, (_, i) => i + 1),
    );
    assert.equal(
      back.envelopes.some((e) => e.type === 'gap'),
      false,
    );
    await back.destroy();
  } finally {
    await r.relay.close(100);
  }
});
