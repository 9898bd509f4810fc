// Topics: publish reaches exactly the subscribers, framed once, text as text, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/connection/websocket.js';
import { once } from '../helpers/net.js';
import { closeAll, connectPair, nextMessages, startServer } from './setup.js';

test('publish reaches exactly the subscribers of the topic', async () => {
  const { wss, port } = await startServer();
  const a = await connectPair(wss, port);
  const b = await connectPair(wss, port);
  const c = await connectPair(wss, port);
  assert.equal(a.socket.subscribe('news'), true);
  assert.equal(a.socket.subscribe('news'), false, 'subscribing twice changes nothing');
  b.socket.subscribe('news');
  c.socket.subscribe('sport');
  assert.equal(wss.subscriberCount('news'), 2);
  assert.equal(wss.subscriberCount('sport'), 1);
  assert.equal(wss.subscriberCount('weather'), 0);
  assert.deepEqual(a.socket.topics, ['news']);
  assert.equal(a.socket.isSubscribed('news'), true);
  assert.equal(a.socket.isSubscribed('sport'), false);
  assert.deepEqual(wss.topics.sort(), ['news', 'sport']);

  const gotA = nextMessages(a.client, 2);
  const gotB = nextMessages(b.client, 2);
  const gotC = nextMessages(c.client, 1);
  assert.equal(wss.publish('news', 'first'), 2);
  assert.equal(wss.publish('sport', 'goal'), 1);
  assert.equal(wss.publish('weather', 'rain'), 0);
  assert.equal(wss.publish('news', 'second'), 2);
  assert.deepEqual(await gotA, [
    ['first', false],
    ['second', false],
  ]);
  assert.deepEqual(await gotB, [
    ['first', false],
    ['second', false],
  ]);
  assert.deepEqual(await gotC, [['goal', false]]);
  await closeAll(wss, a.client, b.client, c.client);
});

test('unsubscribe and close remove a socket from its topics', async () => {
  const { wss, port } = await startServer();
  const a = await connectPair(wss, port);
  const b = await connectPair(wss, port);
  a.socket.subscribe('room');
  a.socket.subscribe('lobby');
  b.socket.subscribe('room');
  assert.equal(a.socket.unsubscribe('room'), true);
  assert.equal(a.socket.unsubscribe('room'), false);
  assert.deepEqual(a.socket.topics, ['lobby']);
  assert.equal(wss.subscriberCount('room'), 1);

  const gotB = nextMessages(b.client, 1);
  assert.equal(wss.publish('room', 'only b'), 1);
  assert.deepEqual(await gotB, [['only b', false]]);

  const closed = once(a.socket, 'close');
  a.client.close();
  await closed;
  assert.equal(wss.subscriberCount('lobby'), 0);
  assert.deepEqual(wss.topics, ['room']);
  assert.deepEqual(a.socket.topics, []);
  assert.equal(a.socket.subscribe('lobby'), false, 'a closed socket cannot subscribe');
  assert.equal(wss.subscriberCount('lobby'), 0);
  await closeAll(wss, b.client);
});

test('except leaves out the sender; broadcast reaches every client', async () => {
  const { wss, port } = await startServer();
  const a = await connectPair(wss, port);
  const b = await connectPair(wss, port);
  const c = await connectPair(wss, port);
  for (const p of [a, b, c]) p.socket.subscribe('chat');
  const gotB = nextMessages(b.client, 3);
  const gotC = nextMessages(c.client, 2);
  const gotA = nextMessages(a.client, 1);
  assert.equal(wss.publish('chat', 'from a', { except: a.socket }), 2);
  assert.equal(wss.publish('chat', 'to b only', { except: [a.socket, c.socket] }), 1);
  assert.equal(wss.broadcast('everyone', { except: new Set([a.socket]) }), 2);
  assert.equal(wss.broadcast('all'), 3);
  assert.deepEqual(await gotB, [
    ['from a', false],
    ['to b only', false],
    ['everyone', false],
  ]);
  assert.deepEqual(await gotC, [
    ['from a', false],
    ['everyone', false],
  ]);
  assert.deepEqual(await gotA, [['all', false]]);
  await closeAll(wss, a.client, b.client, c.client);
});

test('text stays text, binary stays binary, and a received text message is republished as text', async () => {
  const { wss, port } = await startServer();
  const sender = await connectPair(wss, port);
  const reader = await connectPair(wss, port);
  reader.socket.subscribe('t');
  sender.socket.on('message', (data, isBinary) => wss.publish('t', data as Buffer, { binary: isBinary }));
  sender.socket.once('message', (data) => wss.publish('t', data as Buffer));
  const got = nextMessages(reader.client, 6);
  wss.publish('t', 'a string');
  wss.publish('t', Buffer.from('a buffer'));
  wss.publish('t', new Uint8Array([104, 105]).buffer);
  wss.publish('t', 'forced binary', { binary: true });
  sender.client.send('relayed text');
  assert.deepEqual(await got, [
    ['a string', false],
    ['a buffer', true],
    ['hi', true],
    ['forced binary', true],
    ['relayed text', false],
    ['relayed text', false],
  ]);
  await closeAll(wss, sender.client, reader.client);
});

test('publish and broadcast take what send takes: a SharedArrayBuffer, a typed array, a DataView', async () => {
  const { wss, port } = await startServer();
  const pair = await connectPair(wss, port);
  pair.socket.subscribe('t');
  const shared = new SharedArrayBuffer(4);
  new Uint8Array(shared).set([104, 105, 33, 33]);
  const got = nextMessages(pair.client, 4);
  assert.equal(wss.broadcast(shared), 1);
  assert.equal(wss.publish('t', shared), 1);
  assert.equal(wss.publish('t', new Uint16Array([0x6968])), 1);
  pair.socket.send(new DataView(shared, 2, 2));
  assert.deepEqual(await got, [
    ['hi!!', true],
    ['hi!!', true],
    ['hi', true],
    ['!!', true],
  ]);
  await closeAll(wss, pair.client);
});

test('a published message is framed once: every subscriber is written the same buffers', async () => {
  const { wss, port } = await startServer();
  const pairs = [await connectPair(wss, port), await connectPair(wss, port), await connectPair(wss, port)];
  const written: Buffer[][] = [];
  for (const { socket } of pairs) {
    socket.subscribe('big');
    const raw = socket._socket!;
    const seen: Buffer[] = [];
    written.push(seen);
    const write = raw.write.bind(raw) as (...args: unknown[]) => boolean;
    raw.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (Buffer.isBuffer(chunk) && chunk.length > 0) seen.push(chunk);
      return write(chunk, ...rest);
    }) as typeof raw.write;
  }
  const small = 'x'.repeat(100);
  const large = Buffer.alloc(100_000, 7);
  const got = pairs.map((p) => nextMessages(p.client, 2));
  wss.publish('big', small);
  wss.publish('big', large);
  const results = await Promise.all(got);
  for (const r of results) {
    assert.equal(r[0]![0], small);
    assert.equal(r[1]![0].length, large.length);
  }
  // A small message is one buffer (header and payload); a large one is [header, payload], the payload uncopied.
  for (const seen of written) {
    assert.equal(seen.length, 3);
    assert.equal(seen[0], written[0]![0]);
    assert.equal(seen[1], written[0]![1]);
    assert.equal(seen[2], large);
  }
  await closeAll(wss, ...pairs.map((p) => p.client));
});

test('per subscriber, published messages and direct sends arrive in the order they were made', async () => {
  const { wss, port } = await startServer();
  const a = await connectPair(wss, port);
  const b = await connectPair(wss, port);
  a.socket.subscribe('seq');
  b.socket.subscribe('seq');
  const expected: string[] = [];
  const gotA = nextMessages(a.client, 200);
  const gotB = nextMessages(b.client, 133);
  for (let i = 0; i < 200; i++) {
    if (i % 3 === 0) {
      a.socket.send(`direct ${i}`);
      expected.push(`direct ${i}`);
    } else {
      wss.publish('seq', `published ${i}`);
      expected.push(`published ${i}`);
    }
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(
    (await gotA).map(([text]) => text),
    expected,
  );
  assert.deepEqual(
    (await gotB).map(([text]) => text),
    expected.filter((m) => m.startsWith('published')),
  );
  await closeAll(wss, a.client, b.client);
});

test('a publish waits while the socket is in the middle of a fragmented message', async () => {
  const { wss, port } = await startServer();
  const a = await connectPair(wss, port);
  a.socket.subscribe('t');
  const got = nextMessages(a.client, 3);
  const errors: unknown[] = [];
  a.client.on('error', (error) => errors.push(error));
  a.socket.send('one ', { fin: false });
  wss.publish('t', 'published in between');
  await new Promise((resolve) => setImmediate(resolve));
  a.socket.send('two', { fin: true });
  wss.publish('t', 'published after');
  assert.deepEqual(await got, [
    ['one two', false],
    ['published in between', false],
    ['published after', false],
  ]);
  assert.deepEqual(errors, []);
  await closeAll(wss, a.client);
});

test('topics work with clientTracking off, and only on server-side sockets', async () => {
  const { wss, port } = await startServer({ clientTracking: false });
  const a = await connectPair(wss, port);
  a.socket.subscribe('x');
  assert.equal(wss.clients, undefined, 'as in ws, no clients set');
  const got = nextMessages(a.client, 2);
  assert.equal(wss.publish('x', 'hello'), 1);
  assert.equal(wss.broadcast('to all'), 1);
  assert.deepEqual(await got, [
    ['hello', false],
    ['to all', false],
  ]);
  const closed = once(a.socket, 'close');
  a.client.close();
  await closed;
  assert.equal(wss.subscriberCount('x'), 0);
  assert.throws(() => new WebSocket().subscribe('x'), /connections accepted by a WebSocketServer/);
  await wss.close({ timeout: 100 });
});
