// Channels are bounded: per wavecast.v1 connection (--max-channels-per-connection), and the records the
// relay keeps (numbers and history) are freed once a channel is idle past the ttl, by a sweep, without
// waiting for the channel to be touched again (issue 14: about 500 B per channel name ever used, kept
// forever). A client that comes back to a freed channel is told of what it missed with a gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawV1, startRelay } from '../../fuzz/relay-harness.js';
import { MemoryHistory } from '../../src/relay/history.js';

test('a wavecast.v1 connection joins at most --max-channels-per-connection channels', { timeout: 30_000 }, async () => {
  const r = await startRelay({ maxPayload: 4096, historyLimit: 10 }, { maxChannelsPerConnection: 3 });
  try {
    const c = await RawV1.open(r.port);
    for (const channel of ['a', 'b', 'c', 'd']) c.sendJson({ type: 'join', channel });
    await c.barrier();
    const errors = c.take().filter((e) => e.type === 'error');
    assert.deepEqual(errors, [
      { type: 'error', code: 'too_many_channels', message: 'A connection may join at most 3 channels', channel: 'd' },
    ]);
    c.sendJson({ type: 'leave', channel: 'a' });
    c.sendJson({ type: 'join', channel: 'd' });
    await c.barrier();
    assert.ok(c.take().some((e) => e.type === 'joined' && e.channel === 'd'));
    await c.destroy();
  } finally {
    await r.relay.close(100);
  }
});

/** An in-memory history on a clock the test moves, that says when the relay sweeps it. */
class WatchedHistory extends MemoryHistory {
  private _swept: (() => void) | null = null;
  constructor(
    ttl: number,
    readonly clock = { now: 1_000_000 },
  ) {
    super({ limit: 10, ttl, maxBytes: 1 << 20, now: () => clock.now });
  }
  override sweep(): void {
    super.sweep();
    this._swept?.();
  }
  nextSweep(): Promise<void> {
    return new Promise((resolve) => (this._swept = resolve));
  }
}

test('the relay sweeps its history: idle channels are freed untouched, and a client back on one gets a gap', {
  timeout: 30_000,
}, async () => {
  const history = new WatchedHistory(1000);
  const r = await startRelay(
    { maxPayload: 4096, historyLimit: 10 },
    { historyStore: history, history: { limit: 10, ttl: 1000, maxBytes: 1 << 20 } },
  );
  try {
    for (let i = 0; i < 2000; i++) r.relay.publish(`idle-${i}`, Buffer.from('x'), false, 'http');
    for (let i = 0; i < 3; i++) r.relay.publish('room', Buffer.from(`m${i + 1}`), false, 'http');
    assert.equal(history.channels, 2001);
    history.clock.now += 1001;
    await history.nextSweep();
    assert.equal(history.channels, 0, 'every idle channel was freed');
    assert.equal(history.totalBytes, 0);

    const back = await RawV1.open(r.port);
    back.sendJson({ type: 'join', channel: 'room', since: 1, epoch: history.epoch });
    await back.until(() => back.envelopes.some((e) => e.type === 'joined'), 'joined');
    const [gap, joined] = back.take();
    assert.deepEqual(
      { type: gap!.type, from: gap!.from, to: gap!.to, reason: gap!.reason },
      { type: 'gap', from: 2, to: 3, reason: 'expired' },
    );
    assert.equal(joined!.seq, 3);
    r.relay.publish('room', Buffer.from('again'), false, 'http');
    await back.until(() => back.envelopes.some((e) => e.type === 'message'), 'the next message');
    assert.equal(back.envelopes[0]!.seq, 4, 'numbers go on above those the client holds');
    await back.destroy();
  } finally {
    await r.relay.close(100);
  }
});
