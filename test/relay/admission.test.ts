// Who may hold a connection to `wavecast serve`, and for how long: connections per address, every TCP
// connection counted (not only WebSockets), unfinished request heads, TLS handshakes and idle keep-alive
// sockets timed out, WebSockets that exchange no message closed, the file descriptor limit respected,
// and a shutdown that takes one --shutdown-timeout whatever is connected. Other addresses of 127.0.0.0/8
// stand for other clients (Linux routes all of them to the loopback interface).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { once } from '../helpers/net.js';
import { selfSigned } from '../helpers/certificates.js';
import { upgradeRequest } from '../helpers/raw-ws.js';
import { closed, connect, killAll, record, refusedUpgrade, sample, startRelay, WsClient, type HttpResult } from './relay-process.js';

after(killAll);

/** A TCP connection to the relay from `localAddress`, once connected; what it receives is kept. */
async function tcp(port: number, localAddress = '127.0.0.1'): Promise<Socket & { received(): string }> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await once(socket, 'connect');
  return Object.assign(socket, { received: () => Buffer.concat(chunks).toString('latin1') });
}

/** A GET from `localAddress` (no keep-alive). */
function get(port: number, path: string, localAddress = '127.0.0.1'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once `count` of `sockets` have closed. */
function closes(sockets: Socket[], count: number, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let closedCount = 0;
    const timer = setTimeout(() => reject(new Error(`only ${closedCount} of ${count} sockets closed`)), timeoutMs);
    for (const socket of sockets) {
      const onClose = () => {
        if (++closedCount === count) {
          clearTimeout(timer);
          resolve(closedCount);
        }
      };
      if (socket.destroyed) onClose();
      else socket.once('close', onClose);
    }
  });
}

/** A WebSocket echo through the relay: `a` sends, `b` on the same channel receives it. */
async function served(url: string, localAddress = '127.0.0.1'): Promise<void> {
  const a = await connect(`${url}/served`, { localAddress });
  const b = await connect(`${url}/served`, { localAddress });
  const got = record(b);
  a.send('served');
  assert.equal((await got.next()).text, 'served');
  a.terminate();
  b.terminate();
}

test('--max-connections-per-ip: one address gets its share of connections of any kind, is answered 429 beyond it, and others are still served', async () => {
  const relay = await startRelay(['--max-connections-per-ip', '4']);
  try {
    const mine = await Promise.all([1, 2, 3, 4].map(() => connect(`${relay.url}/x`)));
    const refused = await refusedUpgrade(`${relay.url}/x`);
    assert.equal(refused.status, 429);
    assert.equal(refused.body, 'Too many connections from 127.0.0.1: the limit is 4 per address; close some and try again');
    // HTTP counts too: the same address's GET is refused, another address's is served.
    const page = await get(relay.port, '/healthz');
    assert.equal(page.status, 429);
    assert.equal((await get(relay.port, '/healthz', '127.0.0.2')).status, 200);

    // One address opens 100 silent TCP connections: 4 are admitted, the refused ones are answered when
    // they send a head, at most 64 of them held at once; the other 32 are cut at once.
    const flood = await Promise.all(Array.from({ length: 100 }, () => tcp(relay.port, '127.0.0.3')));
    await closes(flood, 100 - 4 - 64);
    const metrics = (await get(relay.port, '/metrics', '127.0.0.2')).body;
    const held = sample(metrics, 'wavecast_relay_tcp_connections')!;
    assert.ok(held <= 4 + 4 + 64 + 1, `the relay holds ${held} connections`);
    assert.ok((sample(metrics, 'wavecast_relay_refused_connections_total', '{reason="address"}') ?? 0) >= 2 + 96);
    // A refused connection that does send its head is told why.
    const open = flood.filter((socket) => !socket.destroyed);
    const asking = open.at(-1)!;
    asking.write(upgradeRequest('/x'));
    await once(asking, 'close');
    assert.match(asking.received(), /^HTTP\/1\.1 429 [^\r]*\r\n[\s\S]*Too many connections from 127\.0\.0\.3: the limit is 4 per address/);

    await served(relay.url, '127.0.0.2');
    for (const socket of flood) socket.destroy();
    for (const client of mine) client.terminate();
  } finally {
    await relay.stop();
  }
});

test('a socket that says nothing, half a request head, and an idle keep-alive connection are closed at their timeouts; WebSockets are not', async () => {
  const relay = await startRelay(['--handshake-timeout', '0.3', '--keep-alive-timeout', '0.3']);
  try {
    const ws = await connect(`${relay.url}/stay`);
    const silent = await tcp(relay.port);
    const half = await tcp(relay.port);
    half.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const keptAlive = await tcp(relay.port);
    keptAlive.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await Promise.all([once(silent, 'close'), once(half, 'close'), once(keptAlive, 'close')]);
    assert.match(silent.received(), /^HTTP\/1\.1 408 /);
    assert.match(half.received(), /^HTTP\/1\.1 408 /);
    assert.match(keptAlive.received(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok/);
    assert.equal(ws.readyState, WsClient.OPEN);
    await served(relay.url);
    ws.terminate();
  } finally {
    await relay.stop();
  }
});

test('TLS: a handshake that is never finished is cut at --handshake-timeout, and wss:// clients are served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-admission-tls-'));
  try {
    const { certFile, keyFile } = selfSigned(dir, 'relay');
    const relay = await startRelay(['--tls-cert', certFile, '--tls-key', keyFile, '--handshake-timeout', '0.3']);
    try {
      const silent = await tcp(relay.port);
      const partial = await tcp(relay.port);
      partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // the start of a ClientHello
      await Promise.all([once(silent, 'close'), once(partial, 'close')]);
      // A finished handshake whose request never comes is timed out as a plain one would be.
      const ca = readFileSync(certFile);
      const quiet = tlsConnect({ host: '127.0.0.1', port: relay.port, ca });
      quiet.on('error', () => {});
      let answer = '';
      quiet.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      await once(quiet, 'secureConnect');
      await once(quiet, 'close');
      assert.match(answer, /^HTTP\/1\.1 408 /);
      const client = await connect(`${relay.url}/secure`, { ca });
      const got = record(client);
      client.send('over TLS');
      assert.equal((await got.next()).text, 'over TLS');
      client.terminate();
    } finally {
      await relay.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('when the relay is full, the connection waiting longest without a request is cut for a newcomer; WebSockets and requests being served never are; then 503', async () => {
  const relay = await startRelay(['--max-connections', '3']);
  try {
    const ws = await connect(`${relay.url}/kept`);
    // A request being served: the relay has its head (it answered 100 Continue), its body is still coming.
    const upload = await tcp(relay.port);
    upload.write(
      'POST /channels/kept/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
    );
    await once(upload, 'data');
    const silent = await tcp(relay.port); // the third place: the relay is full

    const first = await tcp(relay.port);
    await once(silent, 'close'); // cut for `first`
    first.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await once(first, 'data'); // answered, and now idle between requests (keep-alive)
    const second = await tcp(relay.port);
    await once(first, 'close'); // the idle keep-alive connection is cut for `second`
    second.write(upgradeRequest('/kept'));
    await once(second, 'data'); // a WebSocket now

    // Every place holds a WebSocket or a request being served: the newcomer is refused.
    const third = await tcp(relay.port);
    third.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await once(third, 'close');
    assert.match(third.received(), /^HTTP\/1\.1 503 [^\r]*\r\n[\s\S]*The relay has reached its limit of 3 connections; try again later/);
    assert.equal(ws.readyState, WsClient.OPEN);
    assert.equal(upload.destroyed, false);

    upload.end('hello'); // the upload completes and is answered
    await once(upload, 'data');
    assert.match(upload.received(), /HTTP\/1\.1 200 OK/);
    second.destroy();
    ws.terminate();
  } finally {
    await relay.stop();
  }
});

test('under a file limit of 256, 300 sockets that do nothing (from ten addresses) cannot keep a client out', {
  timeout: 60_000,
}, async () => {
  const relay = await startRelay([], {}, { fileLimit: 256 });
  try {
    assert.match(relay.stderr(), /the file descriptor limit \(ulimit -n 256\) allows 128 connections/);
    const idle: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const socket = await tcp(relay.port, `127.0.0.${10 + (i % 10)}`);
      if (i % 2 === 1) socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // half a head
      idle.push(socket);
    }
    // The relay keeps its bound: the longest waiting were cut to make room for the later ones.
    await closes(idle, 300 - 128);
    await served(relay.url);
    assert.equal((await get(relay.port, '/healthz')).status, 200);
    const metrics = (await get(relay.port, '/metrics')).body;
    assert.ok(sample(metrics, 'wavecast_relay_tcp_connections')! <= 128, 'within the bound');
    assert.ok(sample(metrics, 'wavecast_relay_evicted_connections_total')! >= 300 - 128);
    assert.doesNotMatch(relay.stderr(), /EMFILE/);
    for (const socket of idle) socket.destroy();
  } finally {
    await relay.stop();
  }
});

test('--idle-timeout: a client that only answers pings is closed with 1000; the heartbeat did not take it for dead', async () => {
  const relay = await startRelay(['--idle-timeout', '0.4', '--heartbeat', '0.1']);
  try {
    const client = await connect(`${relay.url}/quiet`);
    let pinged = 0;
    client.on('ping', () => pinged++);
    const { code, reason } = await closed(client, 10_000);
    assert.equal(code, 1000);
    assert.equal(reason, 'Idle timeout: no message for 400 ms');
    assert.ok(pinged >= 2, `pinged ${pinged} times`);
    const metrics = (await get(relay.port, '/metrics')).body;
    assert.equal(sample(metrics, 'wavecast_relay_idle_closes_total'), 1);
    assert.equal(sample(metrics, 'wavecast_relay_heartbeat_timeouts_total'), 0);
  } finally {
    await relay.stop();
  }
});

test('SIGTERM with a slow WebSocket and a slow HTTP upload connected: one --shutdown-timeout, then both are cut, and the relay exits 0', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--shutdown-timeout', '2', '--log-format', 'json']);
  // A WebSocket that never reads again (its close frame is never answered) and a POST that never ends.
  const ws = await tcp(relay.port);
  ws.write(upgradeRequest('/slow'));
  await new Promise<void>((resolve) => ws.once('data', () => resolve()));
  const upload = await tcp(relay.port);
  // Expect: 100-continue tells when the relay has the request under way (the body may come).
  upload.write(
    'POST /channels/slow/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\nExpect: 100-continue\r\n\r\n',
  );
  await new Promise<void>((resolve) => upload.once('data', () => resolve()));
  assert.match(upload.received(), /^HTTP\/1\.1 100 Continue/);
  upload.write('only a bit');
  const cut = Promise.all([once(ws, 'close', 20_000), once(upload, 'close', 20_000)]);
  relay.child.kill('SIGTERM');
  const exit = await relay.exited;
  assert.equal(exit.code, 0);
  await cut;
  // The relay's own clock: from the signal to the end, one deadline (before, a second one followed).
  const lines = relay
    .stderr()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { time: string; msg: string; connections?: number });
  const at = (message: RegExp) => Date.parse(lines.find((line) => message.test(line.msg))!.time);
  const deadline = lines.filter((line) => /^shutdown timeout: cutting off/.test(line.msg));
  assert.equal(deadline.length, 1);
  assert.ok(deadline[0]!.connections! >= 2, 'the WebSocket and the upload were still there');
  const took = at(/^relay stopped/) - at(/^SIGTERM received/);
  assert.ok(took >= 2000 && took < 3000, `the shutdown took ${took} ms`);
});
