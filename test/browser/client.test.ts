// wavecast/browser's client against a scripted WebSocket: backoff, the offline queue's policies,
// rejoining with since, duplicates skipped, a reset gap, and the ping timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/v1/backoff.js';
import { OfflineQueue, OfflineQueueFullError } from '../../src/browser/offline-queue.js';
import { WavecastClient, type ChannelMessage, type ConnectionState } from '../../src/browser/index.js';

test('backoff grows exponentially up to the maximum, with jitter within bounds', () => {
  const options = { initial: 100, max: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, 0.999999, options)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(backoffDelay(2, 0, options), 200, 'half the delay at the lowest jitter');
  assert.equal(backoffDelay(2, 0.5, options), 300);
  assert.equal(backoffDelay(3, 0.3, { initial: 100, max: 1000, jitter: 0 }), 800, 'no jitter: exact');
});

test('the offline queue: drop-oldest, drop-newest, error', () => {
  const oldest = new OfflineQueue<number>(2, 'drop-oldest');
  oldest.push(1);
  oldest.push(2);
  assert.deepEqual(oldest.push(3), { dropped: 1 });
  assert.deepEqual(oldest.drain(), [2, 3]);
  assert.equal(oldest.size, 0);
  const newest = new OfflineQueue<number>(2, 'drop-newest');
  newest.push(1);
  newest.push(2);
  assert.deepEqual(newest.push(3), { dropped: 3 });
  assert.deepEqual(newest.drain(), [1, 2]);
  const strict = new OfflineQueue<number>(1, 'error');
  strict.push(1);
  assert.throws(
    () => strict.push(2),
    (error: unknown) => error instanceof OfflineQueueFullError && error.code === 'queue_full',
  );
});

/** A WebSocket the test drives: opens, receives envelopes, closes when told. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  static created: (() => void) | null = null;
  readyState = 0;
  protocol = '';
  sent: Record<string, unknown>[] = [];
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string,
  ) {
    FakeSocket.instances.push(this);
    FakeSocket.created?.();
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open() {
    this.readyState = 1;
    this.protocol = 'wavecast.v1';
    this.onopen?.({});
  }
  receive(envelope: object) {
    this.onmessage?.({ data: JSON.stringify(envelope) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

function setup(options: ConstructorParameters<typeof WavecastClient>[1] = {}) {
  FakeSocket.instances = [];
  const client = new WavecastClient('ws://relay/', {
    WebSocket: FakeSocket,
    backoff: { initial: 1, max: 1 },
    pingInterval: 0,
    random: () => 0,
    ...options,
  });
  const messages: ChannelMessage[] = [];
  const states: ConnectionState[] = [];
  client.on('message', (m) => messages.push(m));
  client.on('state', (s) => states.push(s.state));
  const socket = () => FakeSocket.instances.at(-1)!;
  const nextSocket = (count: number) =>
    new Promise<FakeSocket>((resolve) => {
      FakeSocket.created = () => {
        if (FakeSocket.instances.length >= count) {
          FakeSocket.created = null;
          resolve(FakeSocket.instances.at(-1)!);
        }
      };
    });
  return { client, messages, states, socket, nextSocket };
}

const msg = (seq: number, data = `m${seq}`) => ({ type: 'message', channel: 'c', seq, time: 1, data });
const joined = (seq: number, recovered = 0) => ({
  type: 'joined',
  channel: 'c',
  epoch: 'E',
  seq,
  recovered,
  presence: { count: 1, names: ['Ada'] },
});

test('the client joins on open, rejoins with since and the epoch after a drop, and skips duplicates', async () => {
  const { client, messages, states, socket, nextSocket } = setup({ name: 'Ada' });
  assert.equal(socket().protocols, 'wavecast.v1');
  assert.equal(client.state, 'connecting');
  client.join('c');
  socket().open();
  assert.equal(client.state, 'open');
  assert.deepEqual(socket().sent, [{ type: 'join', channel: 'c', name: 'Ada' }]);
  socket().receive(joined(2));
  socket().receive(msg(3));
  socket().receive(msg(3));
  assert.equal(client.lastSeq('c'), 3);
  assert.equal(client.epoch('c'), 'E');

  const next = nextSocket(2);
  socket().drop();
  assert.equal(client.state, 'reconnecting');
  client.publish('c', 'while offline');
  assert.equal(client.queued, 1);
  const second = await next;
  second.open();
  assert.deepEqual(second.sent, [
    { type: 'join', channel: 'c', name: 'Ada', since: 3, epoch: 'E' },
    { type: 'publish', channel: 'c', data: 'while offline' },
  ]);
  second.receive(msg(4));
  second.receive(msg(3));
  second.receive(joined(4, 1));
  second.receive(msg(5));
  assert.deepEqual(
    messages.map((m) => [m.seq, m.replayed]),
    [
      [3, false],
      [4, true],
      [5, false],
    ],
  );
  assert.deepEqual(states, ['open', 'reconnecting', 'reconnecting', 'open'], 'connecting was before the listener');
  client.close();
  assert.equal(client.state, 'closed');
});

test('a gap is reported; after a reset the numbers are accepted from 1 again', () => {
  const { client, messages, socket } = setup();
  const gaps: unknown[] = [];
  client.on('gap', (g) => gaps.push(g));
  client.join('c', { since: 10, epoch: 'old' });
  socket().open();
  assert.deepEqual(socket().sent[0], { type: 'join', channel: 'c', since: 10, epoch: 'old' });
  socket().receive({ type: 'gap', channel: 'c', from: 11, to: 0, reason: 'reset', epoch: 'E', message: 'reset' });
  socket().receive(msg(1));
  socket().receive(joined(1, 1));
  assert.deepEqual(gaps, [{ channel: 'c', from: 11, to: 0, reason: 'reset', message: 'reset' }]);
  assert.deepEqual(
    messages.map((m) => m.seq),
    [1],
  );
  client.close();
});

test('presence: the list from joined, then join and leave events', () => {
  const { client, socket } = setup();
  const seen: string[][] = [];
  client.on('presence', (p) => seen.push([String(p.count), ...p.names]));
  client.join('c');
  socket().open();
  socket().receive(joined(0));
  socket().receive({ type: 'presence', channel: 'c', event: 'join', name: 'Bob', count: 2 });
  socket().receive({ type: 'presence', channel: 'c', event: 'leave', name: 'Ada', count: 1 });
  assert.deepEqual(seen, [
    ['1', 'Ada'],
    ['2', 'Ada', 'Bob'],
    ['1', 'Bob'],
  ]);
  // Under churn the relay sends a second's joins and leaves as one summary.
  socket().receive({ type: 'presence', channel: 'c', count: 2, joined: ['Cy', 'Dee'], left: ['Bob'] });
  socket().receive({ type: 'presence', channel: 'c', count: 1, joined: [], left: ['Cy'], more: 5 });
  assert.deepEqual(seen.slice(3), [
    ['2', 'Cy', 'Dee'],
    ['1', 'Dee'],
  ]);
  // Or a snapshot of everyone there (to a member that joined during that second).
  socket().receive({ type: 'presence', channel: 'c', count: 2, names: ['Eve', 'Ada'] });
  assert.deepEqual(seen.at(-1), ['2', 'Ada', 'Eve']);
  client.close();
});

test('offline publishes beyond the limit follow the policy', () => {
  const { client } = setup({ queueLimit: 1, queuePolicy: 'drop-newest', autoConnect: false });
  const dropped: string[] = [];
  client.on('dropped', (d) => dropped.push(d.data));
  assert.equal(client.publish('c', 'a'), true);
  assert.equal(client.publish('c', 'b'), false);
  assert.deepEqual(dropped, ['b']);
  const strict = setup({ queueLimit: 1, queuePolicy: 'error', autoConnect: false }).client;
  strict.publish('c', 'a');
  assert.throws(() => strict.publish('c', 'b'), OfflineQueueFullError);
});

test('no answer to a ping: the connection is dropped and the client reconnects', async () => {
  const { client, socket, nextSocket } = setup({ pingInterval: 1, pingTimeout: 1 });
  socket().open();
  const first = socket();
  const second = await nextSocket(2);
  assert.ok(
    first.sent.some((e) => e.type === 'ping'),
    'a ping envelope was sent',
  );
  assert.notEqual(first, second);
  client.close();
});

test('without a WebSocket implementation the client says what to do', () => {
  const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
  (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
  try {
    assert.throws(() => new WavecastClient('ws://x/'), /pass one as the WebSocket option/);
  } finally {
    (globalThis as { WebSocket?: unknown }).WebSocket = saved;
  }
});

test('drop(): the application says the connection is lost (the browser went offline); the client reconnects', async () => {
  const { client, socket, nextSocket, states } = setup();
  client.join('c');
  socket().open();
  const first = socket();
  const next = nextSocket(2);
  client.drop('The browser is offline.');
  assert.equal(client.state, 'reconnecting');
  assert.equal(first.readyState, 3, 'the old socket is closed');
  const second = await next;
  second.open();
  assert.equal(second.sent[0]!.type, 'join');
  assert.deepEqual(states.slice(-3), ['reconnecting', 'reconnecting', 'open']);
  client.close();
  client.drop();
  assert.equal(client.state, 'closed', 'nothing to drop once closed');
});

test('an answered ping keeps the connection; pings go on', async () => {
  const { client, socket } = setup({ pingInterval: 1, pingTimeout: 50 });
  socket().open();
  const s = socket();
  const pings = await new Promise<number>((resolve) => {
    let count = 0;
    const send = s.send.bind(s);
    s.send = (text: string) => {
      send(text);
      const e = JSON.parse(text) as { type: string; id: number };
      if (e.type !== 'ping') return;
      count++;
      if (count === 3) resolve(count);
      else s.receive({ type: 'pong', id: e.id, time: 0 });
    };
  });
  assert.equal(pings, 3);
  assert.equal(FakeSocket.instances.length, 1, 'no reconnection');
  assert.equal(client.state, 'open');
  client.close();
});

test('a publish with an id is acked once the relay stored it, also when it waited in the offline queue', async () => {
  const { client, socket, nextSocket } = setup();
  const acks: unknown[] = [];
  const dropped: unknown[] = [];
  client.on('ack', (a) => acks.push(a));
  client.on('dropped', (d) => dropped.push(d));
  client.join('c');
  socket().open();
  client.publish('c', 'online', { id: 'p1' });
  assert.deepEqual(socket().sent.at(-1), { type: 'publish', channel: 'c', data: 'online', id: 'p1' });
  socket().receive({ type: 'ack', id: 'p1', channel: 'c', seq: 7 });
  assert.deepEqual(acks, [{ id: 'p1', channel: 'c', seq: 7 }]);

  const next = nextSocket(2);
  socket().drop();
  client.publish('c', 'offline', { id: 2 });
  const second = await next;
  second.open();
  assert.deepEqual(
    second.sent.at(-1),
    { type: 'publish', channel: 'c', data: 'offline', id: 2 },
    'the id goes out with the queued publish',
  );
  second.receive({ type: 'ack', id: 2, channel: 'c', seq: 8 });
  assert.deepEqual(acks.at(-1), { id: 2, channel: 'c', seq: 8 });
  second.receive({ type: 'ack', channel: 'c', seq: 9 });
  assert.equal(acks.length, 2, 'an ack without an id is ignored');
  assert.deepEqual(dropped, []);
  client.close();
});
