// Broker restarts: each test starts its own Redis or NATS on a free port (never the shared ones), kills
// it mid-test with SIGKILL and starts it again on the same port. The adapters must report the outage
// ('disconnected', counters, log lines), the servers must go on serving their local clients, and once
// the adapters report 'reconnected', publishes must cross nodes again, including to topics subscribed
// or unsubscribed during the outage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisAdapter } from '../../src/cluster/redis.js';
import { NatsAdapter } from '../../src/cluster/nats.js';
import type { BrokerAdapter, ReconnectInfo } from '../../src/cluster/broker-adapter.js';
import { once } from '../helpers/net.js';
import { client, closeNodes, PrivateBroker, startNode, uniquePrefix, type Node } from './setup.js';

interface Kind {
  name: 'Redis' | 'NATS';
  broker(): Promise<PrivateBroker>;
  adapter(url: string, prefix: string, log: (level: string, line: string) => void): BrokerAdapter;
  /** How many of `adapters` are subscribed to `topic`, as the broker itself sees it. */
  subscribers(broker: PrivateBroker, adapters: BrokerAdapter[], topic: string): Promise<number>;
}

const redisKind: Kind = {
  name: 'Redis',
  broker: () => PrivateBroker.redis(),
  adapter: (url, prefix, log) => new RedisAdapter({ url, prefix, reconnectDelay: 200, log }),
  async subscribers(broker, adapters, topic) {
    const admin = createClient({ url: broker.url });
    await admin.connect();
    const reply = (await admin.sendCommand(['PUBSUB', 'NUMSUB', (adapters[0] as RedisAdapter).channel(topic)])) as unknown[];
    await admin.close();
    return Number(reply[1]);
  },
};

const natsKind: Kind = {
  name: 'NATS',
  broker: () => PrivateBroker.nats(true),
  adapter: (url, prefix, log) => new NatsAdapter({ url, prefix, reconnectDelay: 200, log }),
  async subscribers(broker, adapters, topic) {
    let count = 0;
    for (const adapter of adapters) {
      const subjects = await broker.natsSubscriptions(`wavecast-${adapter.nodeId}`);
      count += subjects.filter((subject) => subject === (adapter as NatsAdapter).subject(topic)).length;
    }
    return count;
  },
};

for (const kind of [redisKind, natsKind]) {
  test(`${kind.name} restarts: the adapters report it, local clients are served meanwhile, delivery resumes`, async () => {
    const broker = await kind.broker();
    const prefix = uniquePrefix('fault');
    const logs: string[][] = [];
    const adapters: BrokerAdapter[] = [];
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const lines: string[] = [];
        logs.push(lines);
        const adapter = kind.adapter(broker.url, prefix, (level, line) => lines.push(`${level}: ${line}`));
        await adapter.connect();
        adapters.push(adapter);
        nodes.push(await startNode(adapter));
      }
      const [A, B, C] = nodes as [Node, Node, Node];
      const a = await client(A, 't');
      const b = await client(B, 't');
      const c = await client(C, 't', 'gone');
      await Promise.all(adapters.map((adapter) => adapter.synced()));
      A.wss.publish('t', 'before');
      await Promise.all([a, b, c].map((inbox) => inbox.waitFor(1)));

      const disconnected = adapters.map((adapter) => once<[Error]>(adapter, 'disconnected'));
      await broker.kill();
      await Promise.all(disconnected);
      assert.deepEqual(
        adapters.map((adapter) => adapter.state),
        ['reconnecting', 'reconnecting', 'reconnecting'],
      );

      // The servers go on: local delivery, new connections, subscribing and unsubscribing.
      assert.equal(A.wss.publish('t', 'during, local only'), 1);
      await a.waitFor(2);
      const late = await client(B, 'late');
      c.socket.unsubscribe('gone');
      assert.equal(adapters[0]!.stats.dropped, 1);

      const reconnected = adapters.map((adapter) => once<[ReconnectInfo]>(adapter, 'reconnected', 20_000));
      await broker.start();
      const infos = (await Promise.all(reconnected)).map(([info]) => info);
      assert.ok(infos.every((info) => info.downtime > 0));
      assert.equal(infos[0]!.dropped, 1, 'A says one publish stayed local');
      assert.deepEqual(
        adapters.map((adapter) => adapter.state),
        ['connected', 'connected', 'connected'],
      );
      await Promise.all(adapters.map((adapter) => adapter.synced()));

      assert.equal(await kind.subscribers(broker, adapters, 'late'), 1, 'subscribed during the outage (on B): subscribed after it');
      assert.equal(await kind.subscribers(broker, adapters, 'gone'), 0, 'unsubscribed during the outage (on C): not subscribed after it');
      assert.equal(await kind.subscribers(broker, adapters, 't'), 3, 'every node resubscribed, once');

      A.wss.publish('t', 'after');
      C.wss.publish('late', 'to the late one');
      await Promise.all([a.waitFor(3), b.waitFor(2), c.waitFor(2), late.waitFor(1)]);
      for (const node of nodes) node.wss.publish('t', 'barrier');
      await Promise.all([a.waitFor(6), b.waitFor(5), c.waitFor(5)]);
      const withoutBarriers = (texts: string[]) => texts.filter((t) => t !== 'barrier');
      assert.deepEqual(withoutBarriers(a.texts()), ['before', 'during, local only', 'after']);
      assert.deepEqual(withoutBarriers(b.texts()), ['before', 'after']);
      assert.deepEqual(withoutBarriers(c.texts()), ['before', 'after']);
      assert.deepEqual(late.texts(), ['to the late one']);

      for (const [i, adapter] of adapters.entries()) {
        assert.equal(adapter.stats.disconnects, 1);
        assert.equal(adapter.stats.reconnects, 1);
        const lines = logs[i]!;
        assert.ok(
          lines.some((line) => line.startsWith(`warn: Lost the connection to ${kind.name} at ${broker.url}`)),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((line) => /^info: Reconnected to .* after \d+ ms; \d+ topic\(s\) subscribed again/.test(line)),
          lines.join('\n'),
        );
      }
      await closeNodes(nodes, [a, b, c, late]);
    } finally {
      await Promise.all(adapters.map((adapter) => adapter.close()));
      await broker.kill();
    }
  });
}

test('Redis drops the link (CLIENT KILL): the adapter reconnects, resubscribes and reports it', async () => {
  const broker = await PrivateBroker.redis();
  const prefix = uniquePrefix('kill');
  const adapters = [
    new RedisAdapter({ url: broker.url, prefix, reconnectDelay: 200 }),
    new RedisAdapter({ url: broker.url, prefix, reconnectDelay: 200 }),
  ];
  const admin = createClient({ url: broker.url });
  try {
    for (const adapter of adapters) await adapter.connect();
    const nodes = [await startNode(adapters[0]!), await startNode(adapters[1]!)];
    const receiver = await client(nodes[1]!, 't');
    await adapters[1]!.synced();
    await admin.connect();
    const disconnected = adapters.map((adapter) => once(adapter, 'disconnected'));
    const reconnected = adapters.map((adapter) => once(adapter, 'reconnected', 10_000));
    // Every connection but the admin's, in one command, so that each adapter has one outage.
    await admin.sendCommand(['CLIENT', 'KILL', 'SKIPME', 'yes']);
    await Promise.all(disconnected);
    await Promise.all(reconnected);
    nodes[0]!.wss.publish('t', 'after the drop');
    await receiver.waitFor(1);
    assert.deepEqual(receiver.texts(), ['after the drop']);
    assert.deepEqual(
      adapters.map((adapter) => [adapter.stats.disconnects, adapter.stats.reconnects]),
      [
        [1, 1],
        [1, 1],
      ],
    );
    await closeNodes(nodes, [receiver]);
  } finally {
    await admin.close().catch(() => undefined);
    await Promise.all(adapters.map((adapter) => adapter.close()));
    await broker.kill();
  }
});

for (const kind of [redisKind, natsKind]) {
  test(`${kind.name} hangs (SIGSTOP): what waits for it is bounded (maxPendingBytes), the rest stays local and is counted`, async () => {
    const broker = await kind.broker();
    const lines: string[] = [];
    const LIMIT = 1024 * 1024;
    const options = { url: broker.url, maxPendingBytes: LIMIT, log: (level: string, line: string) => lines.push(`${level}: ${line}`) };
    const adapter = kind.name === 'Redis' ? new RedisAdapter(options) : new NatsAdapter(options);
    const other = kind.name === 'Redis' ? new RedisAdapter({ url: broker.url }) : new NatsAdapter({ url: broker.url });
    try {
      await adapter.connect();
      await other.connect();
      const [A, B] = [await startNode(adapter), await startNode(other)];
      const local = await client(A, 't');
      const remote = await client(B, 't');
      await other.synced();
      broker.signal('SIGSTOP');
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 100; i++) assert.equal(A.wss.publish('t', chunk), 1, 'local delivery goes on');
      const fits = Math.floor(LIMIT / (12 + 1 + chunk.length)); // a 12-byte header and the 1-byte topic
      assert.equal(adapter.stats.published, fits);
      assert.equal(adapter.stats.dropped, 100 - fits);
      const warning = `Over ${LIMIT} bytes of publishes wait for ${kind.name} to acknowledge them`;
      assert.equal(lines.filter((line) => line.includes(warning)).length, 1, lines.join('\n'));
      await local.waitFor(100);

      // The broker wakes up: what was pending goes through, and so do new publishes, in order.
      broker.signal('SIGCONT');
      A.wss.publish('t', 'again');
      await remote.waitFor(fits + 1);
      assert.equal(remote.messages.length, fits + 1);
      assert.equal(
        remote.messages.slice(0, fits).every((m) => m.data.equals(chunk)),
        true,
      );
      assert.deepEqual(remote.messages[fits], { data: Buffer.from('again'), binary: false });
      await closeNodes([A, B], [local, remote]);
    } finally {
      broker.signal('SIGCONT');
      await Promise.all([adapter.close(), other.close()]);
      await broker.kill();
    }
  });
}

test('closing an adapter while its broker is down does not hang', async () => {
  const broker = await PrivateBroker.redis();
  const adapter = new RedisAdapter({ url: broker.url, reconnectDelay: 200 });
  await adapter.connect();
  const node = await startNode(adapter);
  const inbox = await client(node, 't');
  const disconnected = once(adapter, 'disconnected');
  await broker.kill();
  await disconnected;
  await closeNodes([node], [inbox]);
  await adapter.close();
  assert.equal(adapter.state, 'closed');
});
