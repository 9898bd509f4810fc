// A connection is an EventEmitter as `ws`'s is, though its constructor gives it only the listener table and
// the listeners' count (browser-face.ts): every EventEmitter behaviour a `ws` user relies on still holds,
// and the table finds nothing that was not added (no inherited 'toString' or 'constructor').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, getMaxListeners, once as onceEvent } from 'node:events';
import { WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';
import { connectPair, startServer } from '../server/setup.js';

test('server and client connections are EventEmitters with all of its methods, the class too', async () => {
  const { wss, port } = await startServer();
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const [[socket]] = await Promise.all([once<[WebSocket]>(wss, 'connection'), onceEvent(client, 'open')]);
  for (const ws of [socket, client]) {
    assert.ok(ws instanceof EventEmitter);
    assert.equal(ws.getMaxListeners(), EventEmitter.defaultMaxListeners);
    assert.equal(getMaxListeners(ws), EventEmitter.defaultMaxListeners);
  }
  assert.equal(typeof WebSocket.once, 'function');
  assert.equal(WebSocket.defaultMaxListeners, EventEmitter.defaultMaxListeners);
  client.terminate();
  await once(socket, 'close');
  wss.close();
});

test('the listener table holds what was added, and nothing inherited', async () => {
  const { wss, port } = await startServer();
  const { client, socket } = await connectPair(wss, port);
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    assert.equal(socket.listenerCount(name), 0, name);
    assert.equal(socket.emit(name), false, name);
    assert.deepEqual(socket.listeners(name), [], name);
  }
  assert.deepEqual(socket.eventNames(), []);
  const calls: string[] = [];
  const a = () => calls.push('a');
  const b = () => calls.push('b');
  socket.on('custom', a);
  socket.prependListener('custom', b);
  socket.once('other', () => calls.push('once'));
  assert.deepEqual(socket.eventNames(), ['custom', 'other']);
  assert.equal(socket.emit('custom'), true);
  socket.emit('other');
  socket.emit('other');
  assert.deepEqual(calls, ['b', 'a', 'once']);
  socket.off('custom', a);
  assert.deepEqual(socket.listeners('custom'), [b]);
  socket.removeAllListeners('custom');
  assert.deepEqual(socket.eventNames(), []);
  // 'message' still reaches listeners after the table was emptied and filled again.
  const got = once<[Buffer]>(socket, 'message');
  client.send('after');
  assert.equal(String((await got)[0]), 'after');
  socket.removeAllListeners();
  assert.equal(socket.listenerCount('message'), 0);
  client.terminate();
  await once(socket, 'close');
  wss.close();
});

test('setMaxListeners is per connection and warns past it; captureRejections as EventEmitter has it', async () => {
  const { wss, port } = await startServer();
  const first = await connectPair(wss, port);
  const second = await connectPair(wss, port);
  first.socket.setMaxListeners(1);
  assert.equal(first.socket.getMaxListeners(), 1);
  assert.equal(second.socket.getMaxListeners(), EventEmitter.defaultMaxListeners);
  const warning = onceEvent(process, 'warning');
  first.socket.on('custom', () => {});
  first.socket.on('custom', () => {});
  const [emitted] = (await warning) as [Error & { emitter: unknown; count: number }];
  assert.equal(emitted.name, 'MaxListenersExceededWarning');
  assert.equal(emitted.emitter, first.socket);
  assert.equal(emitted.count, 2);

  // EventEmitter.captureRejections turned on after the connections were made still applies to them, as it
  // does to any emitter made without the option: a listener's rejection becomes an 'error' event.
  EventEmitter.captureRejections = true;
  try {
    const failed = onceEvent(second.socket, 'error') as Promise<[Error]>;
    second.socket.on('custom', async () => {
      throw new Error('rejected');
    });
    second.socket.emit('custom');
    assert.equal((await failed)[0].message, 'rejected');
  } finally {
    EventEmitter.captureRejections = false;
  }
  for (const { client, socket } of [first, second]) {
    client.terminate();
    await once(socket, 'close');
  }
  wss.close();
});
