// The shared history stores against the real brokers (Redis on 6379, NATS with JetStream on 4222), each
// test under a prefix of its own, deleted afterwards: two stores (two nodes) appending at once get unique,
// consecutive numbers; reads after `since`; the lost range once the bounds have dropped messages; one
// epoch for every node, kept across reconnections, and a new one only when the data is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SharedHistory } from '../../src/relay/history-shared.js';
import type { ChannelBounds } from '../../src/relay/history.js';
import { Namespaces } from '../../src/relay/namespaces.js';
import { uniquePrefix } from '../cluster/setup.js';
import { BROKERS, channelsHeld, until, type Bounds, type BrokerKind } from './cluster-setup.js';

const BOUNDS: Bounds = { limit: 100, ttl: 0, maxBytes: 1 << 20 };
const texts = (messages: { data: Buffer }[]) => messages.map((m) => m.data.toString());

/** Two connected stores (two nodes) under a fresh prefix; wiped and closed after `body`. */
async function withStores(
  kind: BrokerKind,
  bounds: Bounds | ChannelBounds,
  body: (a: SharedHistory, b: SharedHistory, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix('hist');
  const a = kind.store(prefix, bounds);
  const b = kind.store(prefix, bounds);
  await a.connect();
  await b.connect();
  try {
    await body(a, b, prefix);
  } finally {
    await a.wipe().catch(() => undefined);
    await Promise.all([a.close(), b.close()]);
  }
}

for (const kind of BROKERS) {
  test(`${kind.name} history: two nodes appending at once get unique, consecutive numbers, and one epoch`, async () => {
    await withStores(kind, BOUNDS, async (a, b) => {
      assert.ok(a.epoch.length > 0);
      assert.equal(b.epoch, a.epoch, 'both nodes read the same epoch');
      const appends: Array<Promise<{ seq: number; data: Buffer; epoch?: string }>> = [];
      for (let i = 0; i < 40; i++) appends.push((i % 2 === 0 ? a : b).append('room', Buffer.from(`m${i}`), i % 3 === 0));
      const stored = await Promise.all(appends);
      assert.deepEqual(
        stored.map((m) => m.seq).sort((x, y) => x - y),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      assert.ok(stored.every((m) => m.epoch === a.epoch));
      // Each node's own appends are numbered in the order it made them.
      for (const parity of [0, 1]) {
        const own = stored.filter((_, i) => i % 2 === parity).map((m) => m.seq);
        assert.deepEqual(
          own,
          [...own].sort((x, y) => x - y),
        );
      }
      const read = await b.read('room', 0);
      assert.equal(read.latest, 40);
      assert.equal(read.lost, undefined);
      assert.deepEqual(
        read.messages.map((m) => m.seq),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      // The read gives back what each append stored, binary flag included.
      const bySeq = new Map(stored.map((m, i) => [m.seq, { text: m.data.toString(), binary: i % 3 === 0 }]));
      for (const message of read.messages)
        assert.deepEqual({ text: message.data.toString(), binary: message.binary }, bySeq.get(message.seq));
      assert.equal(await a.latest('room'), 40);
      // The id of a wavecast.v1 publisher is kept with its message.
      const own = await a.append('room', Buffer.from('mine'), false, 'conn-1');
      assert.equal(own.from, 'conn-1');
      const back = (await b.read('room', 40)).messages;
      assert.deepEqual(
        back.map((m) => [m.data.toString(), m.from]),
        [['mine', 'conn-1']],
      );
      assert.equal(read.messages[0]!.from, undefined);
      assert.equal(await a.latest('never'), 0);
      assert.equal(await a.latest('room'), 41);
      assert.deepEqual(await a.read('never', 0), { messages: [], latest: 0 });
    });
  });

  test(`${kind.name} history: a read after \`since\` gives exactly the later messages; trimmed ones are a lost range`, async () => {
    await withStores(kind, { limit: 3, ttl: 0, maxBytes: 1 << 20 }, async (a, b) => {
      for (const text of ['1', '2', '3', '4', '5']) await a.append('t', Buffer.from(text), false);
      const all = await b.read('t', 0);
      assert.deepEqual(texts(all.messages), ['3', '4', '5']);
      assert.deepEqual(all.lost, { from: 1, to: 2 });
      assert.equal(all.latest, 5);
      assert.deepEqual((await b.read('t', 1)).lost, { from: 2, to: 2 });
      const later = await b.read('t', 3);
      assert.deepEqual(texts(later.messages), ['4', '5']);
      assert.equal(later.lost, undefined);
      assert.deepEqual(await b.read('t', 5), { messages: [], latest: 5 });
      // Numbers go on from where they were, whatever was trimmed.
      assert.equal((await b.append('t', Buffer.from('6'), false)).seq, 6);
    });
  });

  // (NATS counts a message's subject and headers too, about 100 bytes: 400 is room for a small one.)
  test(`${kind.name} history: a message over the byte bound is numbered but not kept, nor what came before it`, async () => {
    await withStores(kind, { limit: 10, ttl: 0, maxBytes: 400 }, async (a) => {
      await a.append('t', Buffer.from('small'), false);
      assert.equal((await a.append('t', Buffer.alloc(1000, 1), true)).seq, 2);
      const read = await a.read('t', 0);
      assert.deepEqual(read.messages, []);
      assert.deepEqual(read.lost, { from: 1, to: 2 });
      await a.append('t', Buffer.from('after'), false);
      assert.deepEqual(texts((await a.read('t', 0)).messages), ['after']);
    });
  });

  test(`${kind.name} history: the epoch outlives the nodes and changes only when the data is gone`, async () => {
    const prefix = uniquePrefix('epoch');
    const first = kind.store(prefix, BOUNDS);
    await first.connect();
    try {
      const epoch = first.epoch;
      await first.append('t', Buffer.from('x'), false);
      await first.close();
      const again = kind.store(prefix, BOUNDS);
      await again.connect();
      assert.equal(again.epoch, epoch, 'a node started later reads the same epoch');
      assert.equal(await again.latest('t'), 1);
      await again.wipe();
      const message = await again.append('t', Buffer.from('y'), false);
      assert.equal(message.seq, 1, 'numbers start again');
      assert.notEqual(message.epoch, epoch, 'under a new epoch');
      assert.equal(again.epoch, message.epoch);
      await again.wipe();
      await again.close();
    } finally {
      await first.close();
    }
  });

  // Found in the issue: every channel name ever used stayed in the broker (Redis about 5 KB a channel,
  // its counter never expiring; NATS a stream each, 2,000 channels took nats-server from 28 to 149 MiB).
  test(`${kind.name} history: an idle channel leaves nothing in the broker; back, its numbers go on above the old ones`, {
    timeout: 60_000,
  }, async () => {
    // Long enough that the 43 appends below finish before the first keys expire on a loaded machine.
    const ttl = kind.name === 'Redis' ? 2000 : 1000;
    await withStores(kind, { limit: 10, ttl, maxBytes: 1 << 20 }, async (a, b, prefix) => {
      for (const text of ['1', '2', '3']) await a.append('back', Buffer.from(text), false);
      for (let i = 0; i < 40; i++) await b.append(`idle-${i}`, Buffer.from('x'), false);
      assert.ok((await channelsHeld(kind, prefix)) >= 41);
      // Redis expires the keys itself; NATS expires the messages (max_age), and a sweep deletes the streams.
      await until(
        'every channel is idle past the ttl and freed',
        async () => {
          await a.sweep?.();
          return (await channelsHeld(kind, prefix)) === 0;
        },
        20_000,
      );
      const read = await b.read('back', 1);
      assert.ok(read.latest >= 3, `latest ${read.latest}`);
      assert.deepEqual(read.lost, { from: 2, to: read.latest }, 'a since from before is told of a gap');
      const again = await b.append('back', Buffer.from('again'), false);
      assert.ok(again.seq > 3, `numbers go on above the old ones (${again.seq})`);
      assert.deepEqual(
        (await a.read('back', 3)).messages.map((m) => [m.seq, m.data.toString()]),
        [[again.seq, 'again']],
      );
      assert.equal((await a.append('never-seen-before', Buffer.from('x'), false)).seq, 1, 'a new channel still starts at 1');
    });
  });

  test(`${kind.name} history: namespaces keep their own size and age, history 0 tells a returning client what it missed`, {
    timeout: 30_000,
  }, async () => {
    const flags = { limit: 3, ttl: 0, maxBytes: 1 << 20 };
    const namespaces = Namespaces.parse({
      namespaces: { 'big:': { history: 6 }, 'brief:': { history: 10, historyTtl: 1.5 }, 'none:': { history: 0 } },
    });
    await withStores(kind, namespaces.historyBounds(flags), async (a, b, prefix) => {
      const append = async (channel: string) => {
        for (let i = 1; i <= 8; i++) await (i % 2 === 0 ? a : b).append(channel, Buffer.from(String(i)), false);
      };
      for (const channel of ['big:a', 'plain', 'none:a']) await append(channel);
      assert.deepEqual(texts((await b.read('big:a', 0)).messages), ['3', '4', '5', '6', '7', '8']);
      assert.deepEqual(texts((await a.read('plain', 0)).messages), ['6', '7', '8']);
      assert.deepEqual(await a.read('none:a', 2), { messages: [], latest: 8, lost: { from: 3, to: 8 } });
      const held = await channelsHeld(kind, prefix);
      // brief: keeps up to 10 messages for a second and a half; then they are gone and its channel is freed.
      await append('brief:a');
      assert.equal((await a.read('brief:a', 0)).messages.length, 8);
      await until("brief:'s messages are past their age and its channel is freed", async () => {
        await a.sweep?.();
        return (await a.read('brief:a', 0)).messages.length === 0 && (await channelsHeld(kind, prefix)) === held;
      });
      const read = await b.read('brief:a', 4);
      assert.deepEqual([read.messages, read.lost?.from], [[], 5], 'a client since 4 is told of a gap from 5');
      assert.deepEqual(texts((await b.read('big:a', 0)).messages), ['3', '4', '5', '6', '7', '8']);
      assert.deepEqual(texts((await b.read('plain', 0)).messages), ['6', '7', '8']);
    });
  });

  test(`${kind.name} history: a channel's new bounds (a changed config) apply to what it already keeps`, async () => {
    const flags = { limit: 3, ttl: 0, maxBytes: 1 << 20 };
    await withStores(kind, flags, async (a, _b, prefix) => {
      for (let i = 1; i <= 5; i++) await a.append('room:1', Buffer.from(String(i)), false);
      assert.deepEqual(texts((await a.read('room:1', 0)).messages), ['3', '4', '5']);
      // A node started later with a config giving room: 10 messages.
      const later = kind.store(prefix, Namespaces.parse({ namespaces: { 'room:': { history: 10 } } }).historyBounds(flags));
      await later.connect();
      try {
        for (let i = 6; i <= 12; i++) await later.append('room:1', Buffer.from(String(i)), false);
        assert.deepEqual(texts((await later.read('room:1', 0)).messages), ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
      } finally {
        await later.close();
      }
    });
  });
}
