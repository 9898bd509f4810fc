// The wire format between nodes, the topic-to-subject mapping for NATS, and the small helpers of the
// broker adapters (error wording, hidden passwords, a missing client package): no broker needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTopic, decodeMessage, encodeMessage, HEADER_BYTES, MAX_TOPIC_BYTES } from '../../src/cluster/wire.js';
import { subjectToken } from '../../src/cluster/nats.js';
import { BrokerAdapter, describeError, hidePassword, loadPeer } from '../../src/cluster/broker-adapter.js';

const NODE = Buffer.from('0102030405060708', 'hex');

function encode(topic: string, payload: Uint8Array, binary: boolean): Buffer {
  return encodeMessage(NODE, topic, checkTopic(topic), payload, binary);
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
