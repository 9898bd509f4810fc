// The server of `new WebSocketServer({ port })` (node:http's, serving only upgrades): what any HTTP client
// can send it gets the right answer and nothing holds the connection after a refusal, a head split anywhere
// still upgrades, bytes sent behind the head reach the WebSocket, and the connection event gets node:http's
// IncomingMessage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';

async function start(options: { maxHeaderSize?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  return { wss, port: (wss.address() as { port: number }).port };
}

/** Sends `pieces` one write (and one round trip) at a time; resolves with everything the server sent back. */
async function exchange(port: number, pieces: Array<string | Buffer>, until: (received: string) => boolean): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (until(received)) resolve();
    });
    socket.on('close', () => {
      closed = true;
      resolve();
    });
  });
  socket.on('error', () => {});
  for (const piece of pieces) {
    if (closed) break;
    socket.write(piece);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  socket.destroy();
  return received;
}

const stop = (wss: WebSocketServer) => new Promise<void>((resolve) => wss.close(() => resolve()));

function upgradeHead(key: string, extra = ''): string {
  return `GET /room?id=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}
const acceptOf = (key: string) =>
  createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');

test('a plain HTTP request is answered 426 with an Upgrade header, and its keep-alive connection is closed', async () => {
  const { wss, port } = await start();
  // An HTTP/1.1 request keeps its connection by default; a second request behind it gets no answer.
  const reply = await exchange(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /again HTTP/1.1\r\nHost: x\r\n\r\n'], () => false);
  assert.match(reply, /^HTTP\/1\.1 426 /);
  assert.match(reply, /\r\nUpgrade: websocket\r\n/i);
  assert.match(reply, /\r\nConnection: close\r\n/i);
  assert.equal(reply.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer, then the connection was closed');
  await stop(wss);
});

test('malformed heads are answered 400, oversized ones 431, and the server keeps upgrading', async () => {
  const { wss, port } = await start({ maxHeaderSize: 1024 });
  for (const bad of [
    'GET / HTTP/1.1\r\nUpgrade: websocket\r\n folded\r\n\r\n',
    'BAD REQUEST LINE\r\n\r\n',
    'GET / HTTP/1.1\r\nNo colon here\r\n\r\n',
  ]) {
    assert.match(await exchange(port, [bad], (r) => r.includes('\r\n\r\n')), /^HTTP\/1\.1 400 /, JSON.stringify(bad));
  }
  const big = `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`;
  assert.match(await exchange(port, [big], (r) => r.includes('\r\n\r\n')), /^HTTP\/1\.1 431 /);
  // A head that never ends is refused once it passes the limit, without waiting for its end.
  const endless = ['GET / HTTP/1.1\r\n', ...Array.from({ length: 40 }, () => `X-Line: ${'b'.repeat(40)}\r\n`)];
  assert.match(await exchange(port, endless, (r) => r.includes('\r\n\r\n')), /^HTTP\/1\.1 431 /);
  const key = randomBytes(16).toString('base64');
  assert.match(await exchange(port, [upgradeHead(key)], (r) => r.includes('\r\n\r\n')), /^HTTP\/1\.1 101 /);
  await stop(wss);
});

test('a head sent one byte at a time, with a frame in the same stream, upgrades and the frame arrives', async () => {
  const { wss, port } = await start();
  const messages: string[] = [];
  let request: IncomingMessage | undefined;
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    request = req;
    socket.on('message', (data) => {
      messages.push(String(data));
      socket.send('got ' + String(data));
    });
  });
  const key = randomBytes(16).toString('base64');
  const text = Buffer.from('hello');
  const maskKey = Buffer.from([1, 2, 3, 4]);
  const frame = Buffer.concat([Buffer.from([0x81, 0x80 | text.length]), maskKey, Buffer.from(text.map((b, i) => b ^ maskKey[i & 3]!))]);
  const bytes = Buffer.concat([Buffer.from(upgradeHead(key, 'Cookie: a=1\r\ncookie: b=2\r\nX-Custom:  yes \r\n'), 'latin1'), frame]);
  const pieces = [...bytes].map((b) => Buffer.from([b]));
  const reply = await exchange(port, pieces, (r) => r.includes('got hello'));
  assert.match(reply, /^HTTP\/1\.1 101 /);
  assert.ok(reply.includes(acceptOf(key)));
  assert.deepEqual(messages, ['hello']);
  assert.ok(request instanceof IncomingMessage);
  assert.equal(request.method, 'GET');
  assert.equal(request.url, '/room?id=7');
  assert.equal(request.httpVersion, '1.1');
  assert.equal(request.headers['x-custom'], 'yes');
  assert.equal(request.headers.cookie, 'a=1; b=2');
  assert.ok(request.rawHeaders.includes('X-Custom'));
  assert.equal(request.socket.remoteAddress, '127.0.0.1');
  await stop(wss);
});

test('a head and a frame in one write upgrade and the frame is read', async () => {
  const { wss, port } = await start();
  wss.on('connection', (socket: WebSocket) => socket.on('message', (data) => socket.send('got ' + String(data))));
  const key = randomBytes(16).toString('base64');
  const frame = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]);
  const reply = await exchange(port, [Buffer.concat([Buffer.from(upgradeHead(key)), frame])], (r) => r.includes('got hi'));
  assert.ok(reply.includes('got hi'));
  await stop(wss);
});

test('a peer that half-closes (FIN, no close frame) is closed with 1006 and its socket is closed too, on our server and on a node:http one', async () => {
  const { createServer } = await import('node:http');
  const httpServer = createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const servers = [(await start()).wss, new WebSocketServer({ server: httpServer })];
  for (const wss of servers) {
    const port = ((wss.options.server ?? wss).address() as { port: number }).port;
    const closed = new Promise<number>((resolve) =>
      wss.once('connection', (ws: WebSocket) => ws.on('close', (code: number) => resolve(code))),
    );
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(upgradeHead(randomBytes(16).toString('base64')));
    await once(socket, 'data');
    const ended = once(socket, 'end');
    socket.end();
    assert.equal(await closed, 1006);
    await ended; // the server ended its side as well: nothing is left half-open
    socket.destroy();
    await stop(wss);
  }
  httpServer.close();
});

test('clients that reset the connection right after a refused head do not take the server down', async () => {
  const { wss, port } = await start({ maxHeaderSize: 1024 });
  const bad = ['BAD REQUEST LINE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`];
  for (let i = 0; i < 60; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(bad[i % bad.length]!);
    socket.resetAndDestroy();
  }
  const key = randomBytes(16).toString('base64');
  assert.match(await exchange(port, [upgradeHead(key)], (r) => r.includes('\r\n\r\n')), /^HTTP\/1\.1 101 /);
  await stop(wss);
});
