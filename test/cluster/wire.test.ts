// The wire format between nodes, the topic-to-subject mapping for NATS, and the small helpers of the
// broker adapters (error wording, hidden passwords, a missing client package): no broker needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkStamp,
  checkTopic,
  decodeMessage,
  encodeMessage,
  HEADER_BYTES,
  MAX_STAMP_TEXT_BYTES,
  MAX_TOPIC_BYTES,
} from '../../src/cluster/wire.js';
import type { ClusterStamp } from '../../src/server/cluster-hook.js';
import { subjectToken } from '../../src/cluster/nats.js';
import { BrokerAdapter, describeError, hidePassword, loadPeer } from '../../src/cluster/broker-adapter.js';

const NODE = Buffer.from('0102030405060708', 'hex');

function encode(topic: string, payload: Uint8Array, binary: boolean, stamp?: ClusterStamp): Buffer {
  return encodeMessage(NODE, topic, checkTopic(topic), payload, binary, stamp);
}

/** The decoded message, failing the test when it was refused. */
function decoded(message: Uint8Array) {
  const result = decodeMessage(message);
  assert.ok(typeof result !== 'string', String(result));
  return result;
}

test('a message is one buffer: version, flags, node id, topic length, topic, payload', () => {
  const message = encode('chat', Buffer.from('hi'), false);
  assert.deepEqual([...message], [1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 4, ...Buffer.from('chat'), ...Buffer.from('hi')]);
  assert.equal(encode('chat', Buffer.from('hi'), true)[1], 1, 'bit 0 of the flags says binary');
});

test('decoding gives back topic, payload and the text/binary flag, for any bytes', () => {
  const payload = Buffer.from([0, 255, 13, 10, 0xc3, 0x28, 0]);
  for (const [topic, binary] of [
    ['', true],
    ['a.b *>', false],
    ['émoji 😀', true],
    ['x'.repeat(MAX_TOPIC_BYTES), false],
  ] as const) {
    const decoded = decodeMessage(encode(topic, payload, binary));
    assert.ok(typeof decoded !== 'string', String(decoded));
    assert.equal(decoded.topic, topic);
    assert.deepEqual(decoded.payload, payload);
    assert.equal(decoded.binary, binary);
    assert.deepEqual(decoded.nodeId, NODE);
  }
  const empty = decodeMessage(encode('t', Buffer.alloc(0), false));
  assert.ok(typeof empty !== 'string');
  assert.equal(empty.payload.length, 0);
  const fromUint8 = decodeMessage(new Uint8Array(encode('t', Buffer.from('u8'), false)));
  assert.ok(typeof fromUint8 !== 'string');
  assert.equal(fromUint8.payload.toString(), 'u8');
});

test('what is not a message is described, never thrown', () => {
  const good = encode('topic', Buffer.from('payload'), false);
  assert.match(decodeMessage(Buffer.from('hello')) as string, /too short/);
  assert.match(decodeMessage(Buffer.concat([Buffer.from([2]), good.subarray(1)])) as string, /unknown version 2/);
  assert.match(decodeMessage(Buffer.concat([Buffer.from([1, 0x82]), good.subarray(2)])) as string, /unknown flags 0x82/);
  const overrun = Buffer.from(good);
  overrun.writeUInt16BE(500, 10);
  assert.match(decodeMessage(overrun) as string, /topic length 500 runs past the end/);
  const badTopic = Buffer.from(good);
  badTopic[HEADER_BYTES] = 0xff;
  assert.match(decodeMessage(badTopic) as string, /not valid UTF-8/);
});

test('a stamped message: one version byte, a flag, and the stamp between the topic and the payload', () => {
  const seq = Buffer.alloc(8);
  seq.writeDoubleBE(7);
  const time = Buffer.alloc(8);
  time.writeDoubleBE(1_700_000_000_123);
  const stamped = encode('c', Buffer.from('hi'), true, { seq: 7, time: 1_700_000_000_123, epoch: 'ep' });
  assert.deepEqual(
    [...stamped],
    [1, 0b011, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0x63, ...seq, ...time, 2, ...Buffer.from('ep'), ...Buffer.from('hi')],
  );
  const withFrom = encode('c', Buffer.from('hi'), false, { seq: 7, time: 1_700_000_000_123, epoch: 'ep', from: 'ann' });
  assert.deepEqual(
    [...withFrom],
    [
      1,
      0b110,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      0,
      1,
      0x63,
      ...seq,
      ...time,
      2,
      ...Buffer.from('ep'),
      3,
      ...Buffer.from('ann'),
      ...Buffer.from('hi'),
    ],
  );
  assert.equal(encode('c', Buffer.from('hi'), false).length, HEADER_BYTES + 1 + 2, 'a plain publish carries no stamp bytes');
});

test('a stamp comes back as it went, with and without a publisher id, at its bounds', () => {
  const payload = Buffer.from([0, 255, 1, 2, 0xc3]);
  const longest = 'é'.repeat(MAX_STAMP_TEXT_BYTES >> 1) + 'x';
  const stamps: ClusterStamp[] = [
    { seq: 0, time: 0, epoch: '' },
    { seq: 1, time: Date.now(), epoch: 'a1b2c3d4e5f6lq9xyz' },
    { seq: Number.MAX_SAFE_INTEGER, time: -1.5, epoch: longest, from: longest },
    { seq: 42, time: 1e15, epoch: 'ep', from: '' },
    { seq: 3, time: 5, epoch: 'ep 😀', from: 'user ünïcode 😀' },
  ];
  for (const stamp of stamps) {
    for (const binary of [false, true]) {
      const message = decoded(encode('\u0000m\u0000room', payload, binary, stamp));
      assert.deepEqual(message.stamp, stamp);
      assert.equal(message.topic, '\u0000m\u0000room');
      assert.deepEqual(message.payload, payload);
      assert.equal(message.binary, binary);
    }
  }
  assert.equal(Buffer.byteLength(longest), MAX_STAMP_TEXT_BYTES);
  const empty = decoded(encode('t', Buffer.alloc(0), false, { seq: 1, time: 2, epoch: 'e' }));
  assert.equal(empty.payload.length, 0);
  assert.equal('stamp' in decoded(encode('t', payload, false)), false, 'a plain message has no stamp');
});

test('a stamp that cannot be carried is refused when it is sent, with a clear error', () => {
  const ok: ClusterStamp = { seq: 1, time: 2, epoch: 'e' };
  assert.equal(checkStamp(ok), 18);
  assert.equal(checkStamp({ ...ok, from: 'ann' }), 22);
  assert.throws(() => encode('t', Buffer.from('x'), false, { ...ok, epoch: 'x'.repeat(256) }), {
    name: 'RangeError',
    message: 'Stamp epoch too long for a cluster adapter: 256 bytes (at most 255)',
  });
  assert.throws(() => encode('t', Buffer.from('x'), false, { ...ok, from: 'é'.repeat(128) }), {
    name: 'RangeError',
    message: 'Stamp from too long for a cluster adapter: 256 bytes (at most 255)',
  });
  assert.throws(() => checkStamp({ ...ok, from: 'half \ud800' }), /Invalid stamp from: it contains a lone UTF-16 surrogate/);
  assert.throws(() => checkStamp({ ...ok, epoch: 5 as never }), /Invalid stamp epoch: expected a string, got number/);
  for (const seq of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => checkStamp({ ...ok, seq }), /Invalid stamp seq: .* \(expected a non-negative safe integer\)/);
  }
  for (const time of [Number.NaN, Number.POSITIVE_INFINITY, '5' as never]) {
    assert.throws(() => checkStamp({ ...ok, time }), /Invalid stamp time/);
  }
  assert.throws(() => checkStamp(null as never), /Invalid stamp: expected an object, got null/);
});

test('a malformed stamp is described, never thrown', () => {
  const good = encode('top', Buffer.from('payload'), false, { seq: 9, time: 10, epoch: 'epoch', from: 'ann' });
  const stampAt = HEADER_BYTES + 3;
  const epochAt = stampAt + 16;
  const fromAt = epochAt + 1 + 5;
  const mutate = (change: (message: Buffer) => void): string => {
    const copy = Buffer.from(good);
    change(copy);
    const result = decodeMessage(copy);
    assert.equal(typeof result, 'string', 'refused');
    return result as string;
  };
  assert.match(
    mutate((m) => (m[1] = 0b100)),
    /a publisher id without a stamp/,
  );
  assert.match(decodeMessage(good.subarray(0, stampAt + 16)) as string, /the stamp runs past the end/);
  assert.match(decodeMessage(good.subarray(0, epochAt + 3)) as string, /the stamp's epoch length 5 runs past the end/);
  assert.match(decodeMessage(good.subarray(0, fromAt)) as string, /the stamp's publisher id length runs past the end/);
  assert.match(decodeMessage(good.subarray(0, fromAt + 2)) as string, /the stamp's publisher id length 3 runs past the end/);
  assert.match(
    mutate((m) => m.writeDoubleBE(Number.NaN, stampAt)),
    /sequence number NaN is not a non-negative integer/,
  );
  assert.match(
    mutate((m) => m.writeDoubleBE(-1, stampAt)),
    /sequence number -1/,
  );
  assert.match(
    mutate((m) => m.writeDoubleBE(2.5, stampAt)),
    /sequence number 2.5/,
  );
  assert.match(
    mutate((m) => m.writeDoubleBE(Number.POSITIVE_INFINITY, stampAt + 8)),
    /time Infinity is not a finite number/,
  );
  assert.match(
    mutate((m) => (m[epochAt] = 200)),
    /the stamp's epoch length 200 runs past the end/,
  );
  assert.match(
    mutate((m) => (m[epochAt + 1] = 0xff)),
    /the stamp's epoch is not valid UTF-8/,
  );
  assert.match(
    mutate((m) => (m[fromAt + 1] = 0xc3)),
    /the stamp's publisher id is not valid UTF-8/,
  );
  // Every cut of a stamped message, and every byte changed, is refused or read: never thrown.
  for (let length = 0; length < good.length; length++) decodeMessage(good.subarray(0, length));
  for (let at = 0; at < fromAt + 4; at++) {
    for (const value of [0, 1, 0x7f, 0x80, 0xff]) {
      const copy = Buffer.from(good);
      copy[at] = value;
      decodeMessage(copy);
    }
  }
});

test('topics a broker adapter cannot carry are refused with a clear error', () => {
  assert.equal(checkTopic('x'.repeat(MAX_TOPIC_BYTES)), MAX_TOPIC_BYTES);
  assert.throws(() => checkTopic('x'.repeat(MAX_TOPIC_BYTES + 1)), {
    name: 'RangeError',
    message: `Topic too long for a cluster adapter: ${MAX_TOPIC_BYTES + 1} bytes (at most ${MAX_TOPIC_BYTES})`,
  });
  assert.throws(() => checkTopic('é'.repeat(513)), /1026 bytes/);
  assert.throws(() => checkTopic('bad \ud800 half'), /lone UTF-16 surrogate/);
  assert.equal(checkTopic('pair 😀'), 9);
  assert.throws(() => checkTopic(42 as never), /expected a string, got number/);
});

test('NATS subject tokens: plain topics stay readable, everything else is %XX, and no two topics share one', () => {
  assert.equal(subjectToken('room-42_b'), 'room-42_b');
  assert.equal(subjectToken('a.b'), 'a%2Eb');
  assert.equal(subjectToken('*'), '%2A');
  assert.equal(subjectToken('>'), '%3E');
  assert.equal(subjectToken('a b'), 'a%20b');
  assert.equal(subjectToken('%2E'), '%252E');
  assert.equal(subjectToken('é'), '%C3%A9');
  assert.equal(subjectToken(''), '%');
  const topics = ['', '%', '.', 'a.b', 'a%2Eb', 'a%252Eb', '*', '>', ' ', 'é', 'Ã©'];
  assert.equal(new Set(topics.map(subjectToken)).size, topics.length);
  for (const topic of topics) assert.match(subjectToken(topic), /^[A-Za-z0-9_%-]+$/);
});

test('errors are described by their system code; URLs lose their password', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  assert.equal(describeError(refused), 'ECONNREFUSED');
  assert.equal(describeError(new AggregateError([refused], '')), 'ECONNREFUSED');
  assert.equal(
    describeError(Object.assign(new Error('CONNECTION_REFUSED'), { code: 'CONNECTION_REFUSED', chainedError: refused })),
    'ECONNREFUSED',
  );
  assert.equal(describeError(new Error('Connection timeout')), 'Connection timeout');
  assert.equal(hidePassword('redis://user:secret@host:6379/0'), 'redis://user:***@host:6379/0');
  assert.equal(hidePassword('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
});

test('an adapter whose client package is not installed says how to install it', async () => {
  await assert.rejects(loadPeer('wavecast-no-such-package', 'SomeAdapter'), {
    code: 'WAVECAST_MISSING_PEER',
    message:
      "SomeAdapter needs the 'wavecast-no-such-package' package, an optional peer dependency of wavecast: npm install wavecast-no-such-package",
  });
  class Uninstalled extends BrokerAdapter {
    readonly link = { url: 'thing://127.0.0.1:1', state: 'idle' as const };
    constructor() {
      super('Thing', 'thing://127.0.0.1:1', {});
    }
    protected async _open(): Promise<void> {
      await loadPeer('wavecast-no-such-package', 'ThingAdapter');
    }
    protected async _shut(): Promise<void> {}
    protected _brokerSubscribe(): void {}
    protected _brokerUnsubscribe(): void {}
    protected _brokerPublish(): boolean {
      return true;
    }
    protected async _brokerSynced(): Promise<void> {}
  }
  const adapter = new Uninstalled();
  await assert.rejects(adapter.connect(), { message: /^ThingAdapter needs the 'wavecast-no-such-package' package/ });
  assert.equal(adapter.state, 'idle');
});
