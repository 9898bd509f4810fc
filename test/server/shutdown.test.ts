// Graceful shutdown: stop accepting, flush what each connection had queued, close with 1001, wait for
// the closing handshakes up to a timeout, terminate what is left. Plain close(cb) stays as in ws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { FrameReader, rawHandshake, rawSocket, readHttpResponse, upgradeRequest } from '../helpers/raw-ws.js';
import { connectPair, startServer, WsClient } from './setup.js';

test('graceful close delivers every message queued before it, then closes with the code and reason', async () => {
  const { wss, port } = await startServer();
  const pairs = [await connectPair(wss, port), await connectPair(wss, port)];
  const received = pairs.map(({ client }) => {
    const seqs: number[] = [];
    client.on('message', (data: Buffer) => seqs.push(data.readUInt32BE(0)));
    return { seqs, closed: once<[number, Buffer]>(client, 'close') };
  });
  for (const { socket } of pairs) socket.subscribe('feed');
  // The clients do not read until the server closes: far more than the kernel's buffers hold stays queued.
  for (const { client } of pairs) client.pause();
  const COUNT = 400;
  for (let i = 0; i < COUNT; i++) {
    const data = Buffer.alloc(20_000, 0x62);
    data.writeUInt32BE(i, 0);
    wss.publish('feed', data);
  }
  const last = Buffer.alloc(4);
  last.writeUInt32BE(COUNT, 0);
  pairs[0]!.socket.send(last); // a direct send queued last is delivered too
  assert.ok(pairs[0]!.socket.bufferedAmount > 1_000_000, 'the messages are still queued when close is called');

  const closing = wss.close({ code: 1001, reason: 'Maintenance', timeout: 5_000 });
  for (const { client } of pairs) client.resume();
  await closing;
  assert.equal(wss.clients.size, 0);
  for (const [i, { seqs, closed }] of received.entries()) {
    const [code, reason] = await closed;
    assert.equal(code, 1001);
    assert.equal(reason.toString(), 'Maintenance');
    const expected = Array.from({ length: i === 0 ? COUNT + 1 : COUNT }, (_, n) => n);
    assert.deepEqual(seqs, expected);
  }
  // No longer accepting.
  const refused = connect(port, '127.0.0.1');
  const [error] = await once<[NodeJS.ErrnoException]>(refused, 'error');
  assert.equal(error.code, 'ECONNREFUSED');
});

test('a peer that never answers the close frame is terminated at the timeout, then close resolves', async () => {
  const { wss, port } = await startServer();
  const accepted = once(wss, 'connection');
  const raw = await rawHandshake(port);
  await accepted;
  const reader = new FrameReader();
  const opcodes: number[] = [];
  raw.socket.on('data', (chunk: Buffer) => opcodes.push(...reader.push(chunk).map((f) => f.opcode)));
  raw.socket.resume();
  const dropped = once(raw.socket, 'close');
  let calledBack = false;
  await wss.close({ timeout: 100 }, () => (calledBack = true));
  assert.equal(calledBack, true);
  await dropped;
  assert.deepEqual(opcodes, [0x8], 'the close frame came, then the connection was cut');
  assert.equal(wss.clients.size, 0);
});

test('handleUpgrade during a graceful close answers 503, as ws does once closed', async () => {
  const http = createServer();
  const port = await listenHttp(http);
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws)));
  const accepted = once(wss, 'connection');
  const raw = await rawHandshake(port);
  await accepted;
  const closing = wss.close({ timeout: 300 });
  const response = await (async () => {
    const socket = await rawSocket(port);
    const read = readHttpResponse(socket);
    socket.write(upgradeRequest());
    return read;
  })();
  assert.equal(response.status, 503);
  assert.equal(response.body, 'Service Unavailable');
  await closing;
  raw.socket.destroy();
  await closeServer(http);
});

test('plain close(callback) leaves open connections alone, as ws does', async () => {
  const http = createServer();
  const port = await listenHttp(http);
  const wss = new WebSocketServer({ server: http });
  const accepted = once(wss, 'connection');
  const client = new WsClient(`ws://127.0.0.1:${port}`);
  await once(client, 'open');
  const [socket] = (await accepted) as [import('../../src/connection/websocket.js').WebSocket];
  let closed = false;
  wss.close(() => (closed = true));
  // Still connected: a message goes through, and 'close' waits for the last client.
  const echoed = once<[Buffer]>(client, 'message');
  socket.send('still open');
  assert.equal(String((await echoed)[0]), 'still open');
  assert.equal(closed, false);
  const serverClosed = once(wss, 'close');
  client.close();
  await serverClosed;
  assert.equal(closed, true);
  await closeServer(http);
});

test('close options are checked, and closing a closed server again resolves', async () => {
  const { wss } = await startServer();
  assert.throws(() => wss.close({ code: 1005 }), { name: 'TypeError', message: 'First argument must be a valid error code number' });
  assert.throws(() => wss.close({ reason: 'x'.repeat(200) }), {
    name: 'RangeError',
    message: 'The message must not be greater than 123 bytes',
  });
  await wss.close({});
  await wss.close({ timeout: 10 });
  const [error] = await new Promise<[Error | undefined]>((resolve) => wss.close((e) => resolve([e])));
  assert.match(String(error), /The server is not running/);
});

for (const handshakeTimeout of [60_000, 0]) {
  test(`the shutdown's deadline cuts opening handshakes too (handshakeTimeout ${handshakeTimeout}): close resolves though an upgrade waits on its hook`, async () => {
    let hooked!: () => void;
    const deciding = new Promise<void>((resolve) => (hooked = resolve));
    const { wss, port } = await startServer({
      handshakeTimeout,
      authenticate: () => {
        hooked();
        return new Promise(() => {}); // never decides
      },
    });
    const stuck = await rawSocket(port);
    const received: Buffer[] = [];
    stuck.on('data', (chunk: Buffer) => received.push(chunk));
    const stuckClosed = once(stuck, 'close', 10_000);
    stuck.write(upgradeRequest());
    await deciding;
    // Without the deadline's cut, 'close' would wait for the hook (never) or for handshakeTimeout (60 s).
    const closed = once(wss, 'close', 10_000);
    await Promise.all([wss.close({ timeout: 200 }), closed]);
    await stuckClosed;
    assert.equal(Buffer.concat(received).length, 0, 'cut without an answer');
  });
}
