// Limits on who gets in and how long they may take: maxConnections, maxConnectionsPerIp, handshakeTimeout
// (slow-loris and a stuck hook), header size, and the origin allow-list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { WebSocket } from '../../src/connection/websocket.js';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { rawHandshake, rawSocket, readHttpResponse, upgradeRequest } from '../helpers/raw-ws.js';
import { addressKey } from '../../src/server/address-limit.js';
import { closeAll, connectPair, startServer, WsClient } from './setup.js';

async function upgradeResponse(port: number, headers: Record<string, string> = {}, path = '/') {
  const socket = await rawSocket(port);
  const response = readHttpResponse(socket);
  socket.write(upgradeRequest(path, headers));
  return response;
}

test('maxConnections: an upgrade beyond it gets 503 with a clear body, and a freed place can be taken', async () => {
  const { wss, port } = await startServer({ maxConnections: 2 });
  const a = await connectPair(wss, port);
  const b = await connectPair(wss, port);
  const refused = await upgradeResponse(port);
  assert.equal(refused.status, 503);
  assert.equal(refused.body, 'The server has reached its limit of 2 connections; try again later');
  assert.equal(wss.stats.rejectedUpgrades, 1);
  assert.equal(wss.clients.size, 2);

  const gone = once(a.socket, 'close');
  a.client.close();
  await gone;
  const c = await connectPair(wss, port);
  assert.equal(c.socket.readyState, WebSocket.OPEN);
  await closeAll(wss, b.client, c.client);
});

test('handshakeTimeout drops a client that sends half a request (slow-loris), not open connections', async () => {
  const { wss, port } = await startServer({ handshakeTimeout: 100 });
  const good = await connectPair(wss, port);
  const loris = await rawSocket(port);
  const data: Buffer[] = [];
  loris.on('data', (chunk: Buffer) => data.push(chunk));
  loris.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
  await once(loris, 'close');
  assert.equal(Buffer.concat(data).length, 0, 'dropped without an answer');
  assert.equal(wss.stats.handshakeTimeouts, 1);
  // The connection that completed its handshake before is untouched.
  assert.equal(good.socket.readyState, WebSocket.OPEN);
  const echoed = once<[Buffer]>(good.client, 'message');
  good.socket.send('still here');
  assert.equal(String((await echoed)[0]), 'still here');
  await closeAll(wss, good.client);
});

test('handshakeTimeout answers 408 when an upgrade waits too long on its hook', async () => {
  const http = createServer();
  const port = await listenHttp(http);
  const wss = new WebSocketServer({ server: http, handshakeTimeout: 100, authenticate: () => new Promise(() => {}) });
  const response = await upgradeResponse(port);
  assert.equal(response.status, 408);
  assert.equal(response.body, 'The WebSocket handshake took too long');
  assert.equal(wss.stats.handshakeTimeouts, 1);
  await wss.close({ timeout: 100 });
  await closeServer(http);
});

test('a request header block over maxHeaderSize is answered 431', async () => {
  const { wss, port } = await startServer({ maxHeaderSize: 2048 });
  const response = await upgradeResponse(port, { 'X-Padding': 'x'.repeat(4096) });
  assert.equal(response.status, 431);
  // A request under the limit still gets in.
  const ok = await rawHandshake(port, { headers: { 'X-Padding': 'x'.repeat(500) } });
  assert.equal(ok.status, 101);
  ok.socket.destroy();
  await wss.close({ timeout: 100 });
});

test('origins: a browser page from another origin gets 403; listed origins and non-browser clients get in', async () => {
  const { wss, port } = await startServer({ origins: ['https://chat.example.com', 'http://localhost:3000'] });
  const refused = await upgradeResponse(port, { Origin: 'https://evil.example.net' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body, 'Origin https://evil.example.net is not allowed to open a WebSocket on this server');
  const allowed: Array<Record<string, string>> = [{ Origin: 'https://chat.example.com' }, { Origin: 'HTTP://LOCALHOST:3000/' }, {}];
  for (const headers of allowed) {
    const ok = await rawHandshake(port, { headers });
    assert.equal(ok.status, 101, JSON.stringify(headers));
    ok.socket.destroy();
  }
  await wss.close({ timeout: 100 });
});

test('option values are checked when the server is made', () => {
  assert.throws(() => new WebSocketServer({ noServer: true, backpressurePolicy: 'queue' as 'drop' }), /Invalid backpressurePolicy/);
  assert.throws(() => new WebSocketServer({ noServer: true, heartbeat: { interval: 0, timeout: 10 } }), /Invalid heartbeat.interval/);
  assert.throws(() => new WebSocketServer({ noServer: true, maxConnections: -1 }), /Invalid maxConnections/);
});

test('addressKey: IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(addressKey('2001:0db8:0000:0001:ffff:0:0:9'), '2001:db8:0:1::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey(undefined), 'unknown');
});

/** Opens a `ws` client from `localAddress` and resolves once it is open. */
async function openFrom(port: number, localAddress: string): Promise<WsClient> {
  const client = new WsClient(`ws://127.0.0.1:${port}/`, { localAddress });
  await once(client, 'open');
  return client;
}

test('maxConnectionsPerIp: one address gets its share and a 429 beyond it, a flood is dropped unanswered, and other addresses still get in', async () => {
  const { wss, port } = await startServer({ maxConnectionsPerIp: 3 });
  const first = [await connectPair(wss, port), await connectPair(wss, port), await connectPair(wss, port)];
  assert.equal(wss.clients.size, 3);

  const refused = await upgradeResponseFrom(port, '127.0.0.1');
  assert.equal(refused.status, 429);
  assert.equal(refused.body, 'Too many connections from 127.0.0.1: the limit is 3 per address; close some and try again');

  // Twenty silent TCP connections from one address: it may hold twice its limit of sockets; the other
  // 14 are closed at once without a byte (a handshakeTimeout would take 10 s).
  const silent = await Promise.all(Array.from({ length: 20 }, () => rawSocket(port, '127.0.0.4')));
  const received: Buffer[] = [];
  const closes = silent.map((socket) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    return once(socket, 'close', 10_000).then(() => socket);
  });
  const dropped = await firstSettled(closes, 14);
  assert.equal(dropped.length, 14);
  assert.equal(wss.stats.perAddressDrops, 14);
  assert.equal(Buffer.concat(received).length, 0, 'dropped without an answer');

  // Another address is not affected.
  const other = await openFrom(port, '127.0.0.2');
  assert.equal(wss.clients.size, 4);

  // The address's share comes back as its connections close.
  const serverClosed = first.map(({ socket }) => once(socket, 'close'));
  for (const { client } of first) client.close();
  await Promise.all(serverClosed);
  const again = await openFrom(port, '127.0.0.1');
  assert.equal(wss.clients.size, 2);
  for (const socket of silent) socket.destroy();
  await closeAll(wss, other, again);
});

test('maxConnectionsPerIp with a server of your own counts from the upgrade request', async () => {
  const http = createServer();
  const port = await listenHttp(http);
  const wss = new WebSocketServer({ server: http, maxConnectionsPerIp: 1 });
  const a = await openFrom(port, '127.0.0.1');
  const refused = await upgradeResponseFrom(port, '127.0.0.1');
  assert.equal(refused.status, 429);
  const b = await openFrom(port, '127.0.0.3');
  assert.equal(wss.clients.size, 2);
  a.terminate();
  b.terminate();
  await wss.close({ timeout: 100 });
  await closeServer(http);
});

/** An upgrade request from `localAddress`, and the whole HTTP response it gets. */
async function upgradeResponseFrom(port: number, localAddress: string) {
  const socket = await rawSocket(port, localAddress);
  const response = readHttpResponse(socket);
  socket.write(upgradeRequest('/'));
  return response;
}

/** Resolves with the values of the first `count` of `promises` to resolve. */
function firstSettled<T>(promises: Array<Promise<T>>, count: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    for (const promise of promises) {
      promise.then((value) => {
        out.push(value);
        if (out.length === count) resolve(out);
      }, reject);
    }
  });
}
