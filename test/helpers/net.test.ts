// The helpers the integration tests lean on must fail loudly and clearly, never hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { closeServer, listenHttp, once } from './net.js';

test('once resolves with the arguments of the next event', async () => {
  const emitter = new EventEmitter();
  const next = once<[number, string]>(emitter, 'message');
  emitter.emit('message', 1, 'a');
  assert.deepEqual(await next, [1, 'a']);
  assert.equal(emitter.listenerCount('message'), 0);
  assert.equal(emitter.listenerCount('error'), 0);
});

test('once rejects with the error an emitter emits first', async () => {
  const emitter = new EventEmitter();
  const next = once(emitter, 'open');
  emitter.emit('error', new Error('refused'));
  await assert.rejects(next, /refused/);
});

test('once rejects after the timeout, naming the event', async () => {
  await assert.rejects(once(new EventEmitter(), 'close', 20), /timed out after 20 ms waiting for 'close' on EventEmitter/);
});

test('once works with an EventTarget', async () => {
  const target = new EventTarget();
  const next = once<[Event]>(target, 'ping');
  target.dispatchEvent(new Event('ping'));
  const [event] = await next;
  assert.equal(event.type, 'ping');
});

test('listenHttp picks a free port on 127.0.0.1 and closeServer stops the server', async () => {
  const server = createServer((_request, response) => response.end('ok'));
  const port = await listenHttp(server);
  assert.ok(port > 0);
  assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port });
  const body = await new Promise<string>((resolve, reject) => {
    get(`http://127.0.0.1:${port}/`, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve(text));
    }).on('error', reject);
  });
  assert.equal(body, 'ok');
  await closeServer(server);
  assert.equal(server.listening, false);
  await closeServer(server); // closing twice is fine
});

test('closeServer says how many connections keep a server open', async () => {
  const server = createServer();
  const sockets: Socket[] = [];
  server.on('upgrade', (_request, socket) => sockets.push(socket as Socket));
  const port = await listenHttp(server);
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const upgraded = once(server, 'upgrade');
  client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  await upgraded;
  await assert.rejects(closeServer(server, 50), /did not close within 50 ms: 1 connection\(s\) still open/);
  client.destroy();
  for (const socket of sockets) socket.destroy();
  await once(server, 'close');
});
