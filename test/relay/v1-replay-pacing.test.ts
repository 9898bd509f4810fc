// A wavecast.v1 replay is sent as the connection takes it (issue 14: 20 connections that never read and
// rejoined `since: 0` under the rate limit took the relay from 53 MiB to 2.3 GB in 45 s, 2,135 MiB of it
// queued). What the relay queues for a replay is now about one part, whatever the history's size; live
// messages held meanwhile are bounded (past the bound: 1013, and the client rejoins `since`); and every
// message still arrives once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawV1, startRelay, type RelayUnderTest } from '../../fuzz/relay-harness.js';
import type { Socket } from 'node:net';
import type { WebSocket } from '../../src/connection/websocket.js';
import { until } from './cluster-setup.js';

/** The relay's connections (its private field: this measures the bound, it is not an API). */
const clients = (r: RelayUnderTest) => [...(r.relay as unknown as { _wss: { clients: Set<WebSocket> } })._wss.clients];
const queued = (r: RelayUnderTest) => clients(r).reduce((sum, ws) => sum + ws.bufferedAmount, 0);
/** Bytes the relay has read from its connections (their sockets are net.Sockets). */
const read = (r: RelayUnderTest) => clients(r).reduce((sum, ws) => sum + ((ws._socket as Socket | null)?.bytesRead ?? 0), 0);

async function relayWithHistory(count: number, size: number, maxBackpressure = 1 << 20, room = 100): Promise<RelayUnderTest> {
  // Room for the live messages too: nothing is dropped from the history during a test.
  const r = await startRelay(
    { maxPayload: 65536, historyLimit: count + room },
    { history: { limit: count + room, ttl: 0, maxBytes: 1 << 30 }, maxBackpressure },
  );
  const payload = Buffer.alloc(size, 'r');
  for (let i = 0; i < count; i++) r.relay.publish('deep', payload, false, 'http');
  return r;
}

/** Waits until the relay has read everything the raw clients wrote, and a few turns more for handling it. */
async function handled(r: RelayUnderTest, written: () => number): Promise<void> {
  await until('the relay has read what the clients sent', () => read(r) >= written());
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('connections that never read and rejoin since 0 again and again: the relay queues about one part each', {
  timeout: 60_000,
}, async () => {
  // A history of 6 MB (100 messages of 60 KB): each join's replay is 6 MB.
  const r = await relayWithHistory(100, 60_000, 64 << 20);
  const attackers: RawV1[] = [];
  try {
    for (let i = 0; i < 5; i++) attackers.push(await RawV1.open(r.port));
    const before = attackers.reduce((sum, a) => sum + a.socket.bytesWritten, 0);
    const upgrade = read(r);
    for (const a of attackers) a.socket.pause();
    for (let round = 0; round < 20; round++) {
      for (const a of attackers) {
        a.sendJson({ type: 'join', channel: 'deep', since: 0 });
        a.sendJson({ type: 'leave', channel: 'deep' });
      }
    }
    await handled(r, () => upgrade + attackers.reduce((sum, a) => sum + a.socket.bytesWritten, 0) - before);
    const held = queued(r);
    // 100 joins of a 6 MB replay each: before, the relay queued all of it that the kernel did not take
    // (hundreds of MB); now, what one part leaves per connection, whatever the kernel took.
    assert.ok(held < 5 * 256 * 1024, `${held} bytes queued for 5 connections that do not read`);
    assert.ok(
      attackers.every((a) => !a.socket.destroyed),
      'nobody was cut: they are paced, not dropped',
    );
  } finally {
    for (const a of attackers) await a.destroy();
    await r.relay.close(100);
  }
});

test('a slow reader recovering a large history gets every message once, in order, live ones included, while little is queued for it', {
  timeout: 60_000,
}, async () => {
  // 400 messages of 20 KB: an 8 MB replay.
  const r = await relayWithHistory(400, 20_000);
  const c = await RawV1.open(r.port);
  try {
    c.socket.pause();
    c.sendJson({ type: 'join', channel: 'deep', since: 0 });
    await handled(r, () => c.socket.bytesWritten);
    let maxQueued = 0;
    let published = 400;
    const live = Buffer.alloc(1000, 'l');
    // Read a little at a time; publish live messages while the replay is under way.
    for (let step = 1; !c.envelopes.some((e) => e.type === 'joined'); step++) {
      maxQueued = Math.max(maxQueued, queued(r));
      if (step <= 50) r.relay.publish('deep', live, false, 'http'), published++;
      c.socket.resume();
      await c.until(() => c.envelopes.length >= step * 10 || c.envelopes.some((e) => e.type === 'joined'), `${step * 10} envelopes`);
      c.socket.pause();
    }
    c.socket.resume();
    r.relay.publish('deep', live, false, 'http');
    published++;
    await c.until(() => c.envelopes.filter((e) => e.type === 'message').length >= published, `${published} messages`);
    assert.ok(maxQueued < 512 * 1024, `at most ${maxQueued} bytes were queued for the reader (the replay is 8 MB)`);
    const messages = c.envelopes.filter((e) => e.type === 'message').map((e) => e.seq as number);
    assert.deepEqual(
      messages,
      Array.from({ length: published }, (_, i) => i + 1),
      'each once, in order',
    );
    const at = c.envelopes.findIndex((e) => e.type === 'joined');
    const joined = c.envelopes[at]!;
    assert.equal(joined.recovered, 400);
    // Those numbered by the joined envelope came before it, the others after.
    assert.equal(
      c.envelopes
        .slice(0, at)
        .filter((e) => e.type === 'message')
        .at(-1)!.seq,
      joined.seq,
    );
  } finally {
    await c.destroy();
    await r.relay.close(100);
  }
});

test('live messages held for a replay are bounded: past --max-backpressure the client is closed with 1013, and recovers with since', {
  timeout: 60_000,
}, async () => {
  const r = await relayWithHistory(200, 20_000, 256 * 1024, 300);
  const c = await RawV1.open(r.port);
  try {
    c.socket.pause();
    c.sendJson({ type: 'join', channel: 'deep', since: 0 });
    await handled(r, () => c.socket.bytesWritten);
    // 40 live messages of 10 KB (400 KB) while the replay waits for the client.
    for (let i = 0; i < 40; i++) r.relay.publish('deep', Buffer.alloc(10_000, 'l'), false, 'http');
    // The client is being closed (it does not read the close frame yet): what comes now is not held for it.
    for (let i = 0; i < 200; i++) r.relay.publish('deep', Buffer.alloc(10_000, 'l'), false, 'http');
    const hub = (
      r.relay as unknown as {
        _v1: { _channels: Map<string, { members: Map<unknown, { pending: unknown[] | null; pendingBytes: number }> }> };
      }
    )._v1;
    const held = [...hub._channels.get('deep')!.members.values()].map((m) => m.pendingBytes);
    assert.deepEqual(held, [0], 'nothing held for a client past the bound');
    c.socket.resume();
    await c.until(() => c.closeCode !== null, 'the close', 30_000);
    assert.equal(c.closeCode, 1013);
    const first = c.envelopes.filter((e) => e.type === 'message').map((e) => e.seq as number);
    assert.deepEqual(
      first,
      Array.from({ length: first.length }, (_, i) => i + 1),
      'what came is in order, with no hole',
    );
    await c.destroy();
    const back = await RawV1.open(r.port);
    back.sendJson({ type: 'join', channel: 'deep', since: first.length, epoch: r.relay.history.epoch });
    await back.until(() => back.envelopes.some((e) => e.type === 'joined'), 'joined', 30_000);
    const rest = back.envelopes.filter((e) => e.type === 'message').map((e) => e.seq as number);
    assert.deepEqual(
      [...first, ...rest],
      Array.from({ length: 440 }, (_, i) => i + 1),
    );
    await back.destroy();
  } finally {
    await r.relay.close(100);
  }
});
