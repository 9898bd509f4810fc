// Limits on who gets in and how long they may take: maxConnections, handshakeTimeout (slow-loris and a
// stuck hook), header size, and the origin allow-list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { WebSocket } from '../../src/connection/websocket.js';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { rawHandshake, rawSocket, readHttpResponse, upgradeRequest } from '../helpers/raw-ws.js';
import { closeAll, connectPair, startServer } from './setup.js';

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
