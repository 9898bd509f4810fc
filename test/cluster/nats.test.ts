// NatsAdapter against the NATS server on 127.0.0.1:4222 (shared: every subject of this run starts with
// a random prefix). Three WebSocketServer nodes in this process, each with its own adapter (its own NATS
// connection), and `ws` clients on each. The subscription count is read from a private nats-server
// with HTTP monitoring, since the shared one has none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as natsConnect } from 'nats';
import { WebSocketServer } from '../../src/index.js';
import { NatsAdapter } from '../../src/cluster/nats.js';
import { once } from '../helpers/net.js';
import {
  checkStampsCarried,
  client,
  closeNodes,
  PortHold,
  PrivateBroker,
  SHARED_NATS,
  startNode,
  uniquePrefix,
  type Inbox,
  type Node,
} from './setup.js';

async function cluster(count: number, prefix: string, url = SHARED_NATS): Promise<{ adapters: NatsAdapter[]; nodes: Node[] }> {
  const adapters: NatsAdapter[] = [];
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const adapter = new NatsAdapter({ url, prefix });
    await adapter.connect();
    adapters.push(adapter);
    nodes.push(await startNode(adapter));
  }
  return { adapters, nodes };
}

async function shutdown(adapters: NatsAdapter[], nodes: Node[], inboxes: Inbox[]): Promise<void> {
  await closeNodes(nodes, inboxes);
  await Promise.all(adapters.map((adapter) => adapter.close()));
}

test('a publish on one node reaches every subscriber on every node exactly once, text and binary', async () => {
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(3, prefix);
  const [A, B, C] = nodes as [Node, Node, Node];
  const subscribers = [await client(A, 't'), await client(B, 't'), await client(B, 't'), await client(C, 't', 'other')];
  const bystander = await client(C, 'elsewhere');
  await Promise.all(adapters.map((adapter) => adapter.synced()));

  const big = randomBytes(100_000);
  assert.equal(A.wss.publish('t', 'hello'), 1);
  B.wss.publish('t', Buffer.from([0, 255, 13, 10, 0]));
  C.wss.publish('t', big);
  C.wss.publish('t', 'text from C');
  for (const node of nodes) node.wss.publish('t', 'barrier');
  await Promise.all(subscribers.map((inbox) => inbox.waitFor(7)));
  for (const inbox of subscribers) {
    const got = inbox.messages.filter((m) => m.data.toString() !== 'barrier');
    assert.equal(got.length, 4, 'exactly once');
    const find = (data: Buffer) => got.filter((m) => m.data.equals(data)).map((m) => m.binary);
    assert.deepEqual(find(Buffer.from('hello')), [false]);
    assert.deepEqual(find(Buffer.from([0, 255, 13, 10, 0])), [true]);
    assert.deepEqual(find(big), [true]);
    assert.deepEqual(find(Buffer.from('text from C')), [false]);
  }
  assert.equal(bystander.messages.length, 0);
  assert.equal(adapters[1]!.stats.received, 5, 'B got the 2 messages of A and the 3 of C, not its own');
  await shutdown(adapters, nodes, [...subscribers, bystander]);
});

test('topics with dots, wildcards, spaces, no characters or any script are carried as themselves', async () => {
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(2, prefix);
  const [A, B] = nodes as [Node, Node];
  const topics = ['a.b', '*', '>', 'a b', '', 'é😀', 'a%2Eb'];
  const inboxes: Inbox[] = [];
  for (const topic of topics) inboxes.push(await client(B, topic));
  await adapters[1]!.synced();
  for (const topic of topics) A.wss.publish(topic, `for ${JSON.stringify(topic)}`);
  await Promise.all(inboxes.map((inbox) => inbox.waitFor(1)));
  // A publish's barrier: one more message per topic, after which nothing else may have arrived.
  for (const topic of topics) A.wss.publish(topic, 'end');
  await Promise.all(inboxes.map((inbox) => inbox.waitFor(2)));
  topics.forEach((topic, i) =>
    assert.deepEqual(inboxes[i]!.texts(), [`for ${JSON.stringify(topic)}`, 'end'], `topic ${JSON.stringify(topic)}`),
  );
  await shutdown(adapters, nodes, inboxes);
});

test('a node subscribes on NATS only to topics that have local subscribers', async () => {
  const broker = await PrivateBroker.nats(true);
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(2, prefix, broker.url);
  const [A, B] = nodes as [Node, Node];
  const [adapterA, adapterB] = adapters as [NatsAdapter, NatsAdapter];
  const subs = (adapter: NatsAdapter) => broker.natsSubscriptions(`wavecast-${adapter.nodeId}`);
  try {
    assert.deepEqual(await subs(adapterA), []);
    assert.deepEqual(await subs(adapterB), []);
    const b1 = await client(B, 'room');
    const b2 = await client(B, 'room');
    await adapterB.synced();
    assert.deepEqual(await subs(adapterB), [`${prefix}.room`], 'two local subscribers, one subscription');
    assert.deepEqual(await subs(adapterA), [], 'no local subscribers on A');
    const a1 = await client(A, 'room');
    await adapterA.synced();
    assert.deepEqual(await subs(adapterA), [`${prefix}.room`]);
    const closed = Promise.all([once(b1.socket, 'close'), once(b2.socket, 'close')]);
    b1.client.close();
    b2.client.close();
    await closed;
    await adapterB.synced();
    assert.deepEqual(await subs(adapterB), [], 'the last local subscriber gone, the subject is unsubscribed');
    await shutdown(adapters, nodes, [a1, b1, b2]);
  } finally {
    await broker.kill();
  }
});

test("each publisher's messages arrive in publish order, thousands of them, on every node", async () => {
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(3, prefix);
  const [A, B, C] = nodes as [Node, Node, Node];
  const inboxes = [await client(A, 'seq'), await client(C, 'seq'), await client(C, 'seq')];
  await Promise.all(adapters.map((adapter) => adapter.synced()));
  const COUNT = 2000;
  for (let i = 0; i < COUNT; i++) {
    A.wss.publish('seq', `A:${i}`);
    B.wss.publish('seq', Buffer.from(`B:${i}`));
  }
  await Promise.all(inboxes.map((inbox) => inbox.waitFor(2 * COUNT, 20_000)));
  const expected = Array.from({ length: COUNT }, (_, i) => i);
  for (const inbox of inboxes) {
    assert.equal(inbox.messages.length, 2 * COUNT);
    for (const from of ['A', 'B']) {
      const seen = inbox
        .texts()
        .filter((t) => t.startsWith(`${from}:`))
        .map((t) => Number(t.slice(2)));
      assert.deepEqual(seen, expected, `messages of ${from} in order, each once`);
    }
  }
  await shutdown(adapters, nodes, inboxes);
});

test('a message larger than the NATS server takes is refused before anything is delivered', async () => {
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(1, prefix);
  const inbox = await client(nodes[0]!, 't');
  assert.throws(() => nodes[0]!.wss.publish('t', Buffer.alloc(2 * 1024 * 1024)), {
    name: 'RangeError',
    message: /^Message too large for NATS: 2097165 bytes with the cluster header, and the server's max_payload is \d+$/,
  });
  nodes[0]!.wss.publish('t', 'small');
  await inbox.waitFor(1);
  assert.deepEqual(inbox.texts(), ['small']);
  await shutdown(adapters, nodes, [inbox]);
});

test('a message on the subject that is not in the wire format is counted and ignored', async () => {
  const prefix = uniquePrefix('nats');
  const { adapters, nodes } = await cluster(1, prefix);
  const adapter = adapters[0]!;
  const inbox = await client(nodes[0]!, 't');
  await adapter.synced();
  const other = await natsConnect({ servers: SHARED_NATS });
  const logged = once<[string, string]>(adapter, 'log');
  other.publish(adapter.subject('t'), Buffer.from([1, 0]));
  await other.flush();
  const [, line] = await logged;
  assert.match(line, /too short for a header \(2 bytes\)/);
  assert.equal(adapter.stats.malformed, 1);
  await other.close();
  await shutdown(adapters, nodes, [inbox]);
});

test('when NATS cannot be reached at start, connect() rejects naming the URL, and a server refuses the adapter', async () => {
  // A port held for this test, on which nothing listens: connecting to it is refused.
  const hold = await PortHold.take();
  const port = hold.port;
  try {
    const adapter = new NatsAdapter({ url: `nats://127.0.0.1:${port}` });
    await assert.rejects(adapter.connect(), { message: `Cannot reach NATS at nats://127.0.0.1:${port}: ECONNREFUSED` });
    assert.throws(() => new WebSocketServer({ noServer: true, adapter }), /The NATS adapter is idle: await adapter.connect\(\)/);
    await adapter.close();
  } finally {
    hold.release();
  }
});

test('a stamp travels with its message through NATS; a broken one is counted and ignored', async () => {
  const prefix = uniquePrefix('nats');
  const other = await natsConnect({ servers: SHARED_NATS });
  try {
    await checkStampsCarried(
      () => new NatsAdapter({ url: SHARED_NATS, prefix }),
      async (adapter, topic, bytes) => {
        other.publish((adapter as NatsAdapter).subject(topic), bytes);
        await other.flush();
      },
    );
  } finally {
    await other.close();
  }
});

test('bad options are refused with clear errors', () => {
  assert.throws(
    () => new NatsAdapter({ url: 'redis://127.0.0.1:4222' }),
    /Invalid NATS url: redis:\/\/127.0.0.1:4222 \(the scheme must be nats: or tls:\)/,
  );
  assert.throws(() => new NatsAdapter({ url: [] }), /the list is empty/);
  assert.throws(() => new NatsAdapter({ prefix: 'a.*' }), /Invalid prefix: a\.\*/);
  assert.throws(() => new NatsAdapter({ prefix: 'a..b' }), /Invalid prefix/);
  assert.throws(() => new NatsAdapter({ reconnectDelay: 0 }), /Invalid reconnectDelay: 0/);
  assert.doesNotThrow(() => new NatsAdapter({ url: ['127.0.0.1:4222', 'nats://127.0.0.1:4223'], prefix: 'app.ws' }));
});
