// The socket's listeners (socket-listeners.ts), on a WebSocket over an in-memory socket: what came after the
// handshake is read first, the peer's end of a half-open socket ends ours, an error destroys the socket,
// a socket is known as taken over, and a timeout node:http set on it is cleared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import { WebSocket, isConnectionSocket } from '../../src/connection/websocket.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { MemorySocket } from '../helpers/memory-socket.js';

const KEY = Buffer.from([1, 2, 3, 4]);

function textFrame(text: string): Buffer {
  return Buffer.concat(encodeFrame(Buffer.from(text), { opcode: 0x1, fin: true, rsv1: false, maskKey: KEY }));
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.on('close', (code: number) => resolve(code)));
}

test('a socket is known as taken over once a connection has it; the bytes after the handshake are read first', async () => {
  const socket = new MemorySocket();
  const ws = new WebSocket();
  const messages: string[] = [];
  ws.on('message', (data: Buffer) => messages.push(data.toString()));
  assert.equal(isConnectionSocket(socket), false);
  ws._setSocket(socket, textFrame('head'), {});
  assert.equal(isConnectionSocket(socket), true);
  socket.push(textFrame('then'));
  const done = closed(ws);
  ws.terminate();
  await done;
  assert.deepEqual(messages, ['head', 'then']);
});

test('the peer`s end on a socket that may stay half-open ends ours; close reports 1006', async () => {
  const socket = new MemorySocket();
  assert.equal(socket.allowHalfOpen, true);
  const ws = new WebSocket();
  ws._setSocket(socket, Buffer.alloc(0), {});
  const done = closed(ws);
  socket.push(null);
  assert.equal(await done, 1006);
  assert.equal(socket.writableEnded, true);
});

test('an error on the socket destroys it; close reports 1006 and no error is thrown', async () => {
  const socket = new MemorySocket();
  const ws = new WebSocket();
  ws._setSocket(socket, Buffer.alloc(0), {});
  const done = closed(ws);
  socket.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  assert.equal(await done, 1006);
  assert.equal(socket.destroyed, true);
});

test('an inactivity timeout set on the socket before (a node:http server`s `timeout`) is cleared when the connection takes it', async () => {
  const http = createServer();
  // node:http gives each socket this timeout; a WebSocket connection stays open however long it is quiet.
  http.timeout = 60_000;
  const wss = new WebSocketServer({ server: http, WebSocket });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.on('connection', resolve));
  const { port } = http.address() as { port: number };
  const raw = connect(port, '127.0.0.1');
  raw.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  const ws = await accepted;
  assert.equal((ws._socket as unknown as { timeout?: number }).timeout, 0);
  raw.destroy();
  await new Promise<void>((resolve) => wss.close(() => http.close(() => resolve())));
});
