// RedisAdapter against the Redis server on 127.0.0.1:6379 (shared: every channel of this run starts
// with a random prefix, and nothing is flushed). Three WebSocketServer nodes in this process, each with
// its own adapter (and so its own two Redis connections), and `ws` clients on each.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { WebSocketServer } from '../../src/index.js';
import { RedisAdapter } from '../../src/cluster/redis.js';
import { once } from '../helpers/net.js';
import { checkStampsCarried, client, closeNodes, PortHold, SHARED_REDIS, startNode, uniquePrefix, type Inbox, type Node } from './setup.js';

const admin = createClient({ url: SHARED_REDIS });

before(async () => {
  await admin.connect();
});

after(async () => {
  await admin.close();
});

async function channels(prefix: string): Promise<string[]> {
  const reply = (await admin.sendCommand(['PUBSUB', 'CHANNELS', `${prefix}*`])) as string[];
  return reply.map(String).sort();
}

async function numsub(channel: string): Promise<number> {
  const reply = (await admin.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
  return Number(reply[1]);
}

async function cluster(count: number, prefix: string): Promise<{ adapters: RedisAdapter[]; nodes: Node[] }> {
  const adapters: RedisAdapter[] = [];
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const adapter = new RedisAdapter({ url: SHARED_REDIS, prefix });
    await adapter.connect();
    adapters.push(adapter);
    nodes.push(await startNode(adapter));
  }
  return { adapters, nodes };
}

async function shutdown(adapters: RedisAdapter[], nodes: Node[], inboxes: Inbox[]): Promise<void> {
  await closeNodes(nodes, inboxes);
  await Promise.all(adapters.map((adapter) => adapter.close()));
}

test('a publish on one node reaches every subscriber on every node exactly once, text and binary', async () => {
  const prefix = `${uniquePrefix('redis')}:`;
  const { adapters, nodes } = await cluster(3, prefix);
  const [A, B, C] = nodes as [Node, Node, Node];
  const subscribers = [await client(A, 't'), await client(B, 't'), await client(B, 't'), await client(C, 't', 'other')];
  const bystander = await client(C, 'elsewhere');
  await Promise.all(adapters.map((adapter) => adapter.synced()));

  const big = randomBytes(100_000);
  assert.equal(A.wss.publish('t', 'hello'), 1, 'delivered at once to the local subscriber');
  B.wss.publish('t', Buffer.from([0, 255, 13, 10, 0]));
  C.wss.publish('t', big);
  C.wss.publish('t', 'text from C', { binary: false });
  // Barriers: once each publisher's barrier has arrived, everything it published before has too, and
  // a duplicate of it would have arrived before it (Redis keeps each connection's order).
  for (const node of nodes) node.wss.publish('t', 'barrier');
  await Promise.all(subscribers.map((inbox) => inbox.waitFor(7)));
  for (const inbox of subscribers) {
    const got = inbox.messages.filter((m) => m.data.toString() !== 'barrier');
    assert.equal(got.length, 4, `exactly once: ${JSON.stringify(inbox.texts().map((t) => t.slice(0, 20)))}`);
    const find = (data: Buffer) => got.filter((m) => m.data.equals(data));
    assert.deepEqual(
      find(Buffer.from('hello')).map((m) => m.binary),
      [false],
    );
    assert.deepEqual(
      find(Buffer.from([0, 255, 13, 10, 0])).map((m) => m.binary),
      [true],
    );
    assert.deepEqual(
      find(big).map((m) => m.binary),
      [true],
    );
    assert.deepEqual(
      find(Buffer.from('text from C')).map((m) => m.binary),
      [false],
    );
  }
  assert.equal(bystander.messages.length, 0);
  assert.equal(adapters[0]!.stats.published, 2);
  assert.equal(adapters[1]!.stats.received, 5, 'B got the 2 messages of A and the 3 of C, not its own');
  assert.equal(adapters[0]!.stats.dropped + adapters[0]!.stats.malformed + adapters[0]!.stats.errors, 0);
  await shutdown(adapters, nodes, [...subscribers, bystander]);
});

test('a node subscribes on Redis only to topics that have local subscribers', async () => {
  const prefix = `${uniquePrefix('redis')}:`;
  const { adapters, nodes } = await cluster(2, prefix);
  const [A, B] = nodes as [Node, Node];
  const [adapterA, adapterB] = adapters as [RedisAdapter, RedisAdapter];
  const channel = adapterA.channel('room');
  assert.equal(channel, `${prefix}room`);
  assert.deepEqual(await channels(prefix), [], 'no subscribers, no channels');

  const b1 = await client(B, 'room');
  const b2 = await client(B, 'room');
  await adapterB.synced();
  assert.deepEqual(await channels(prefix), [channel]);
  assert.equal(await numsub(channel), 1, 'two local subscribers, one subscription on Redis');
  assert.deepEqual(adapterA.topics, []);

  const a1 = await client(A, 'room');
  await adapterA.synced();
  assert.equal(await numsub(channel), 2);
  a1.socket.unsubscribe('room');
  await adapterA.synced();
  assert.equal(await numsub(channel), 1);

  const closed = Promise.all([once(b1.socket, 'close'), once(b2.socket, 'close')]);
  b1.client.close();
  b2.client.close();
  await closed;
  await adapterB.synced();
  assert.deepEqual(await channels(prefix), [], 'the last local subscriber gone, the channel is unsubscribed');
  assert.deepEqual(adapterB.topics, []);
  await shutdown(adapters, nodes, [a1, b1, b2]);
});

test("each publisher's messages arrive in publish order, thousands of them, on every node", async () => {
  const prefix = `${uniquePrefix('redis')}:`;
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

test('when Redis cannot be reached at start, connect() rejects naming the URL, and a server refuses the adapter', async () => {
  // A port held for this test, on which nothing listens: connecting to it is refused.
  const hold = await PortHold.take();
  const port = hold.port;
  try {
    const adapter = new RedisAdapter({ url: `redis://127.0.0.1:${port}` });
    await assert.rejects(adapter.connect(), {
      message: `Cannot reach Redis at redis://127.0.0.1:${port}: ECONNREFUSED`,
      code: 'WAVECAST_BROKER_UNREACHABLE',
    });
    assert.equal(adapter.state, 'idle');
    assert.throws(
      () => new WebSocketServer({ noServer: true, adapter }),
      /The Redis adapter is idle: await adapter.connect\(\) before giving it to a WebSocketServer/,
    );
    const secret = new RedisAdapter({ url: `redis://user:hunter2@127.0.0.1:${port}` });
    await assert.rejects(secret.connect(), (error: Error) => {
      assert.equal(error.message, `Cannot reach Redis at redis://user:***@127.0.0.1:${port}: ECONNREFUSED`);
      return true;
    });
    await adapter.close();
    await secret.close();
    await assert.rejects(adapter.connect(), /closed/);
  } finally {
    hold.release();
  }
});

test('a message on the channel that is not in the wire format is counted and ignored', async () => {
  const prefix = `${uniquePrefix('redis')}:`;
  const lines: string[] = [];
  const adapter = new RedisAdapter({ url: SHARED_REDIS, prefix, log: (level, line) => lines.push(`${level}: ${line}`) });
  await adapter.connect();
  const node = await startNode(adapter);
  const inbox = await client(node, 't');
  await adapter.synced();
  const logged = once<[string, string]>(adapter, 'log');
  await admin.publish(`${prefix}t`, 'not a wavecast message');
  const [level, line] = await logged;
  assert.equal(level, 'warn');
  assert.match(line, /not in Wavecast's wire format: unknown version 110/);
  assert.equal(adapter.stats.malformed, 1);
  assert.ok(lines.some((l) => l.startsWith('info: Connected to Redis at redis://127.0.0.1:6379 as node ')));
  assert.equal(inbox.messages.length, 0);
  await shutdown([adapter], [node], [inbox]);
});

test('a stamp travels with its message through Redis; a broken one is counted and ignored', async () => {
  const prefix = `${uniquePrefix('redis')}:`;
  await checkStampsCarried(
    () => new RedisAdapter({ url: SHARED_REDIS, prefix }),
    async (_adapter, topic, bytes) => {
      await admin.publish(prefix + topic, bytes);
    },
  );
});

test('bad options are refused with clear errors', () => {
  assert.throws(
    () => new RedisAdapter({ url: 'http://127.0.0.1' }),
    /Invalid Redis url: http:\/\/127.0.0.1 \(the scheme must be redis: or rediss:\)/,
  );
  assert.throws(() => new RedisAdapter({ url: 'not a url' }), /Invalid Redis url/);
  assert.throws(() => new RedisAdapter({ reconnectDelay: -1 }), /Invalid reconnectDelay: -1/);
  assert.throws(() => new RedisAdapter({ connectTimeout: Number.NaN }), /Invalid connectTimeout/);
  assert.throws(() => new RedisAdapter({ log: 'yes' as never }), /Invalid log option/);
  assert.throws(() => new RedisAdapter({ prefix: 5 as never }), /Invalid prefix/);
  assert.throws(() => new RedisAdapter({ maxPendingBytes: 0 }), /Invalid maxPendingBytes: 0/);
  assert.throws(() => new RedisAdapter(null as never), /options must be an object/);
});
