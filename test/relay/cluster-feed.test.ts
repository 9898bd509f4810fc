// The cluster node's ordering buffer and presence, without brokers: messages offered out of turn come out
// in sequence order, once; a hole nobody fills is read from the history after the grace period; what the
// history lost is skipped; a node's own early publishes are not skipped; an epoch change resets. Presence:
// deltas, resynchronisation on a missed delta, goodbyes, and a silent node dropped after 3 heartbeats.
// And what the node does with a channel message from the broker that has no stamp to number it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterFeed } from '../../src/relay/cluster-feed.js';
import { ClusterPresence, type PresenceMessage } from '../../src/relay/cluster-presence.js';
import { MemoryHistory, type StoredMessage } from '../../src/relay/history.js';
import { createLogger } from '../../src/relay/log.js';
import { RelayCluster } from '../../src/relay/cluster.js';
import type { BrokerAdapter } from '../../src/cluster/broker-adapter.js';
import type { SharedHistory } from '../../src/relay/history-shared.js';
import { until } from './cluster-setup.js';

const quiet = createLogger({ write: () => undefined });

function setup(limit = 100) {
  const history = new MemoryHistory({ limit, ttl: 0, maxBytes: 1 << 20, epoch: 'e1' });
  const delivered: Array<[number, string]> = [];
  const resets: string[] = [];
  const feed = new ClusterFeed({
    history,
    log: quiet,
    grace: 30,
    deliver: (message) => {
      delivered.push([message.seq, message.data.toString()]);
      return 1;
    },
    listen: async () => undefined,
    unlisten: () => undefined,
    reset: (_channel, epoch) => resets.push(epoch),
  });
  /** Stores a message in the history (as another node would) and returns it, not offered. */
  const store = (text: string): StoredMessage => ({ ...history.append('c', Buffer.from(text), false), epoch: 'e1' });
  return { history, feed, delivered, resets, store };
}

test('messages offered out of turn are delivered in sequence order, each once', async () => {
  const { feed, delivered, store } = setup();
  await feed.retain('c');
  const [m1, m2, m3] = [store('a'), store('b'), store('c')];
  assert.equal(feed.offer(m2!, false), 0, 'held: 1 has not come');
  feed.offer(m3!, false);
  assert.deepEqual(delivered, []);
  assert.equal(feed.offer(m1!, false), 1);
  assert.deepEqual(delivered, [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  feed.offer(m2!, false);
  feed.offer(m1!, true);
  assert.deepEqual(
    delivered,
    [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ],
    'duplicates are dropped',
  );
  feed.close();
});

test('a hole nobody fills is read from the history after the grace period', async () => {
  const { feed, delivered, store } = setup();
  await feed.retain('c');
  const m1 = store('a');
  store('lost on the broker');
  const m3 = store('c');
  feed.offer(m1, false);
  feed.offer(m3, false);
  assert.deepEqual(delivered, [[1, 'a']]);
  await until('the hole is filled', () => delivered.length === 3, 2000);
  assert.deepEqual(delivered, [
    [1, 'a'],
    [2, 'lost on the broker'],
    [3, 'c'],
  ]);
  feed.close();
});

test('what the history no longer has is skipped; what came after it is delivered', async () => {
  const { feed, delivered, store } = setup(1);
  await feed.retain('c');
  store('gone');
  store('gone too');
  const m3 = store('kept');
  feed.offer(m3, false);
  await until('the hole is given up', () => delivered.length === 1, 2000);
  assert.deepEqual(delivered, [[3, 'kept']]);
  feed.close();
});

test("a channel starts after its newest number, but this node's own publishes made meanwhile are delivered", async () => {
  const { history, feed, delivered, store } = setup();
  store('before anyone was here');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = new ClusterFeed({
    history,
    log: quiet,
    grace: 30,
    deliver: (message) => delivered.push([message.seq, message.data.toString()]),
    listen: () => gate,
    unlisten: () => undefined,
    reset: () => undefined,
  });
  const ready = slow.retain('c');
  // Numbered while the feed waits for the broker: its own message (2) and another node's (3).
  const own = store('mine');
  const other = store('theirs');
  slow.offer(own, true);
  slow.offer(other, false);
  release();
  await ready;
  assert.deepEqual(delivered, [
    [2, 'mine'],
    [3, 'theirs'],
  ]);
  slow.close();
  feed.close();
});

test('an epoch change (the store was wiped) resets the channel and numbers start again', async () => {
  const { feed, delivered, resets, store } = setup();
  await feed.retain('c');
  feed.offer(store('a'), false);
  feed.offer({ channel: 'c', seq: 1, time: 0, data: Buffer.from('new'), binary: false, epoch: 'e2' }, false);
  feed.offer({ channel: 'c', seq: 2, time: 0, data: Buffer.from('late, old epoch'), binary: false, epoch: 'e1' }, false);
  assert.deepEqual(resets, ['e2']);
  assert.deepEqual(delivered, [
    [1, 'a'],
    [1, 'new'],
  ]);
  feed.close();
});

function presence(nodeId: string, interval = 1000) {
  const sent: PresenceMessage[] = [];
  const events: string[] = [];
  const local = new Map<string, string[]>();
  const p = new ClusterPresence({
    nodeId,
    interval,
    send: (message) => sent.push(message),
    local: (channel) => ({ names: local.get(channel) ?? [], plain: 0 }),
    localChannels: () => [...local.keys()],
    changed: (channel, event, name) => events.push(`${channel} ${event} ${name}`),
  });
  return { p, sent, events, local };
}

test('presence: deltas of other nodes, a full resync when one was missed, goodbyes', () => {
  const a = presence('A');
  const b = presence('B');
  b.local.set('lobby', ['Bob']);
  b.p.localChanged('lobby', { event: 'join', name: 'Bob' });
  a.p.receive(b.sent.at(-1)!);
  assert.deepEqual(a.events, ['lobby join Bob']);
  assert.deepEqual(a.p.remote('lobby'), { names: ['Bob'], plain: 0 });
  assert.deepEqual(a.sent.at(-1), { t: 'q', n: 'A', to: 'B' }, 'an unknown node is asked for its state');
  a.p.receive(b.sent.at(-1)!); // (B's answer is the same state here)

  b.local.set('lobby', ['Bob', 'Bea']);
  b.p.localChanged('lobby', { event: 'join', name: 'Bea' });
  b.local.set('lobby', ['Bea']);
  b.p.localChanged('lobby', { event: 'leave', name: 'Bob' });
  a.sent.length = 0;
  a.p.receive(b.sent.at(-1)!); // the first of the two was lost
  assert.deepEqual(a.sent, [{ t: 'q', n: 'A', to: 'B' }]);
  b.p.receive(a.sent[0]!);
  const full = b.sent.at(-1)!;
  assert.equal(full.t, 'f');
  a.p.receive(full);
  assert.deepEqual(a.p.remote('lobby'), { names: ['Bea'], plain: 0 });

  a.events.length = 0;
  a.p.receive({ t: 'x', n: 'B' });
  assert.deepEqual(a.events, ['lobby leave Bea']);
  assert.deepEqual(a.p.remote('lobby'), { names: [], plain: 0 });
});

test("presence: the user ids of other nodes' members come with their joins and leaves, sent one by one, merged or dropped", () => {
  const events: string[] = [];
  const a = new ClusterPresence({
    nodeId: 'A',
    interval: 1000,
    send: () => undefined,
    local: () => ({ names: [], plain: 0 }),
    localChannels: () => [],
    changed: (channel, event, name, user) => events.push(`${channel} ${event} ${name} ${user}`),
  });
  // One by one: the change names its user; a member without one has none.
  a.receive({
    t: 'd',
    n: 'B',
    v: 1,
    c: 'room',
    s: { names: ['Ada'], plain: 0, users: [['u-ada', 'Ada']] },
    e: { event: 'join', name: 'Ada', user: 'u-ada' },
  });
  a.receive({
    t: 'd',
    n: 'B',
    v: 2,
    c: 'room',
    s: { names: ['Ada', 'Guest'], plain: 0, users: [['u-ada', 'Ada']] },
    e: { event: 'join', name: 'Guest' },
  });
  // Merged (no change named): the user is found by name, when that name is one user's.
  a.receive({
    t: 'd',
    n: 'B',
    v: 3,
    c: 'room',
    s: {
      names: ['Ada', 'Guest', 'Bob', 'Sam', 'Sam'],
      plain: 0,
      users: [
        ['u-ada', 'Ada'],
        ['u-bob', 'Bob'],
        ['u-sam1', 'Sam'],
        ['u-sam2', 'Sam'],
      ],
    },
  });
  a.receive({ t: 'x', n: 'B' });
  assert.deepEqual(events, [
    'room join Ada u-ada',
    'room join Guest undefined',
    'room join Bob u-bob',
    'room join Sam undefined',
    'room join Sam undefined',
    'room leave Ada u-ada',
    'room leave Guest undefined',
    'room leave Bob u-bob',
    'room leave Sam undefined',
    'room leave Sam undefined',
  ]);
});

test('presence: a node silent for three heartbeats is dropped with its members', async () => {
  const a = presence('A', 20);
  a.p.start();
  const startedAt = Date.now();
  a.p.receive({ t: 'd', n: 'B', v: 1, c: 'lobby', s: { names: ['Bob'], plain: 2 }, e: { event: 'join', name: 'Bob' } });
  assert.equal(a.p.nodes, 1);
  await until('B is dropped', () => a.p.nodes === 0, 2000);
  assert.ok(Date.now() - startedAt >= 60, 'not before three heartbeats');
  assert.deepEqual(a.events, ['lobby join Bob', 'lobby leave Bob']);
  assert.deepEqual(a.p.remote('lobby'), { names: [], plain: 0 });
  a.p.stop();
});

test('after the broker link comes back, what other nodes stored meanwhile is read from the history', async () => {
  const { feed, delivered, store } = setup();
  await feed.retain('c');
  feed.offer(store('before'), false);
  // Stored by other nodes while this node's subscription was down: nothing came through the broker.
  store('during 1');
  store('during 2');
  feed.catchUp();
  await until('caught up', () => delivered.length === 3, 2000);
  assert.deepEqual(delivered, [
    [1, 'before'],
    [2, 'during 1'],
    [3, 'during 2'],
  ]);
  feed.close();
});

test('presence under churn: a node sends a few deltas per channel a second, and the others end up right', async () => {
  const a = presence('A');
  const b = presence('B');
  // 500 joins and leaves on B's lobby in one go (all members end up gone but the last ten).
  const names: string[] = [];
  for (let i = 0; i < 250; i++) {
    names.push(`n${i}`);
    b.local.set('lobby', [...names]);
    b.p.localChanged('lobby', { event: 'join', name: `n${i}` });
    if (i < 240) {
      names.splice(names.indexOf(`n${i}`), 1);
      b.local.set('lobby', [...names]);
      b.p.localChanged('lobby', { event: 'leave', name: `n${i}` });
    }
  }
  const deltas = () => b.sent.filter((m) => m.t === 'd');
  assert.equal(deltas().length, 5, 'five at once, the rest held');
  await until('the held changes are sent as one delta', () => deltas().length === 6, 3000);
  for (const message of b.sent) a.p.receive(message);
  assert.deepEqual(a.p.remote('lobby').names.sort(), names.sort());
  a.p.stop();
  b.p.stop();
});

test('a channel message from another node without the stamp that numbers it is logged and dropped', () => {
  const lines: string[] = [];
  const cluster = new RelayCluster({
    adapter: {} as BrokerAdapter,
    store: {} as SharedHistory,
    log: createLogger({ write: (line) => lines.push(line) }),
    presenceInterval: 1000,
  });
  assert.equal(cluster.deliver('\u0000m\u0000room', Buffer.from('unnumbered'), false), 0);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /warn.*ignored a channel message from another node without a stamp.*room/);
});
