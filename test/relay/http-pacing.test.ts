// HTTP answers are paced by the connection that asked for them (issue 14: pipelined GET
// /channels/<name>/messages from a client that never reads, 113 KiB of requests, took the relay to 2.4 GB
// and it served nobody for about 24 s). A history answer is written as the socket takes it; a
// connection's requests wait for the answers before theirs, and one with too many waiting is cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { startRelay, type RelayUnderTest } from '../../fuzz/relay-harness.js';
import { MAX_PIPELINED } from '../../src/relay/http-routes.js';
import { until } from './cluster-setup.js';

/** A relay whose channel "big" keeps `count` messages of `size` bytes, and the server side of its HTTP sockets. */
async function relayWithHistory(count: number, size: number): Promise<{ r: RelayUnderTest; sockets: Socket[] }> {
  const r = await startRelay({ maxPayload: 65536, historyLimit: count }, { history: { limit: count, ttl: 0, maxBytes: 1 << 30 } });
  const sockets: Socket[] = [];
  (r.relay as unknown as { _server: { on(event: 'connection', listener: (socket: Socket) => void): void } })._server.on(
    'connection',
    (socket) => sockets.push(socket),
  );
  const payload = Buffer.alloc(size, 'x');
  for (let i = 0; i < count; i++) r.relay.publish('big', payload, false, 'http');
  return { r, sockets };
}

const queued = (sockets: Socket[]) => sockets.reduce((sum, socket) => sum + socket.writableLength, 0);

test('a history answer is written as the socket takes it: a client that does not read holds one piece, not the answer', {
  timeout: 60_000,
}, async () => {
  // 400 messages of 60 KB: an answer of 24 MB, more than the kernel's socket buffers take.
  const { r, sockets } = await relayWithHistory(400, 60_000);
  const client = netConnect({ port: r.port, host: '127.0.0.1' });
  try {
    await new Promise((resolve) => client.once('connect', resolve));
    client.pause();
    client.write('GET /channels/big/messages HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the relay waits for the client', () => sockets.some((socket) => socket.writableNeedDrain));
    // Whatever it would write more, it would write now: a few more turns of the loop.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    const held = queued(sockets);
    assert.ok(
      held < 256 * 1024,
      `${held} bytes queued for a client that does not read (before: the whole 24 MB answer less what the kernel took)`,
    );
    // Reading, the client gets the whole answer, valid JSON.
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.resume();
    await until('the whole answer', () => Buffer.concat(chunks).includes('0\r\n\r\n'), 30_000);
    const raw = Buffer.concat(chunks).toString();
    const body = dechunk(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    const parsed = JSON.parse(body) as { latest: number; messages: Array<{ seq: number; data: string }> };
    assert.equal(parsed.latest, 400);
    assert.deepEqual(
      parsed.messages.map((m) => m.seq),
      Array.from({ length: 400 }, (_, i) => i + 1),
    );
    assert.ok(parsed.messages.every((m) => m.data.length === 60_000));
  } finally {
    client.destroy();
    await r.relay.close(100);
  }
});

test('pipelined requests wait for the answers before them; a client that pipelines many and never reads is cut, others are served', {
  timeout: 60_000,
}, async () => {
  const { r, sockets } = await relayWithHistory(100, 60_000);
  try {
    // The attack: a stream of pipelined history reads (1,000, 50 KB of requests) that nobody reads.
    const attacker = netConnect({ port: r.port, host: '127.0.0.1' });
    attacker.on('error', () => {});
    await new Promise((resolve) => attacker.once('connect', resolve));
    attacker.pause();
    const closed = new Promise((resolve) => attacker.once('close', resolve));
    attacker.write('GET /channels/big/messages HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1000));
    await closed;
    assert.ok(queued(sockets) < 256 * 1024, `${queued(sockets)} bytes queued`);

    // A client that pipelines a few and reads gets every answer, in order.
    const polite = netConnect({ port: r.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    polite.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => polite.once('connect', resolve));
    const paths = ['/healthz', '/channels/big', '/channels/big/messages?since=99', '/healthz', '/channels/big/messages?since=100'];
    polite.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    await until(
      'five answers',
      () =>
        Buffer.concat(chunks).toString().split('HTTP/1.1 200').length - 1 === 5 && Buffer.concat(chunks).toString().endsWith('0\r\n\r\n'),
      10_000,
    );
    const text = Buffer.concat(chunks).toString();
    let at = 0;
    for (const marker of ['ok\n', '"online"', '"seq":100', 'ok\n', '"messages":[]']) {
      const found = text.indexOf(marker, at);
      assert.ok(found >= at, `${marker} after the answers before it`);
      at = found + marker.length;
    }
    polite.destroy();
    assert.equal(MAX_PIPELINED, 16);
  } finally {
    await r.relay.close(100);
  }
});

/** The body of a chunked HTTP answer. */
function dechunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (size === 0) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
