// Tests of the wavecast.v1 module: client envelopes parsed and checked, server envelopes built and encoded, UTF-8 bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkChannel, encode, gapEnvelope, messageEnvelope, parseClientEnvelope, utf8Length } from '../../src/v1/protocol.js';

const parse = (value: unknown, max = 100) => parseClientEnvelope(typeof value === 'string' ? value : JSON.stringify(value), max);
const code = (value: unknown, max?: number) => {
  const result = parse(value, max);
  assert.equal(result.ok, false, `expected an error for ${JSON.stringify(value)}`);
  return result.ok ? '' : result.error.code;
};

test('the four client envelopes parse', () => {
  assert.deepEqual(parse({ type: 'join', channel: 'lobby', since: 4, epoch: 'e', name: 'Ada' }), {
    ok: true,
    envelope: { type: 'join', channel: 'lobby', since: 4, epoch: 'e', name: 'Ada' },
  });
  assert.deepEqual(parse({ type: 'join', channel: '' }), { ok: true, envelope: { type: 'join', channel: '' } });
  assert.deepEqual(parse({ type: 'leave', channel: 'a/b' }), { ok: true, envelope: { type: 'leave', channel: 'a/b' } });
  assert.deepEqual(parse({ type: 'publish', channel: 'x', data: 'hi', id: 7 }), {
    ok: true,
    envelope: { type: 'publish', channel: 'x', data: 'hi', id: 7 },
  });
  assert.deepEqual(parse({ type: 'ping', id: 'p1' }), { ok: true, envelope: { type: 'ping', id: 'p1' } });
});

test('bad input gets a typed error with a readable message', () => {
  assert.equal(code('{nope'), 'bad_json');
  assert.equal(code('[1]'), 'bad_envelope');
  assert.equal(code('null'), 'bad_envelope');
  assert.equal(code({ channel: 'x' }), 'bad_envelope');
  assert.equal(code({ type: 'subscribe', channel: 'x' }), 'unknown_type');
  assert.equal(code({ type: 'join' }), 'bad_envelope');
  assert.equal(code({ type: 'join', channel: 'a\nb' }), 'bad_channel');
  assert.equal(code({ type: 'join', channel: 'x'.repeat(300) }), 'bad_channel');
  assert.equal(code({ type: 'join', channel: 'x', since: -1 }), 'bad_envelope');
  assert.equal(code({ type: 'join', channel: 'x', since: 1.5 }), 'bad_envelope');
  assert.equal(code({ type: 'join', channel: 'x', since: '3' }), 'bad_envelope');
  assert.equal(code({ type: 'join', channel: 'x', name: 'n'.repeat(65) }), 'too_big');
  assert.equal(code({ type: 'publish', channel: 'x', data: { a: 1 } }), 'bad_envelope');
  assert.equal(code({ type: 'publish', channel: 'x', data: 'é'.repeat(51) }, 100), 'too_big');
  assert.equal(code({ type: 'ping', id: { x: 1 } }), 'bad_envelope');
  const result = parse({ type: 'publish', channel: 'x', id: 'r1' });
  assert.ok(!result.ok);
  assert.equal(result.error.id, 'r1', 'the error names the request');
  assert.equal(result.error.channel, 'x');
  assert.match(result.error.message, /"data"/);
});

test('a channel name or a presence name that is not valid Unicode (a lone surrogate) is refused with a typed error', () => {
  for (const channel of ['\ud800', 'a\udfffb', 'lobby\ud83d']) {
    const join = parse(`{"type":"join","channel":${JSON.stringify(channel)}}`);
    assert.ok(!join.ok);
    assert.equal(join.error.code, 'bad_channel');
    assert.match(join.error.message, /valid Unicode/);
    assert.equal(code({ type: 'publish', channel, data: 'x' }), 'bad_channel');
    assert.equal(code({ type: 'leave', channel }), 'bad_channel');
  }
  // A pair is a character like any other.
  assert.equal(parse({ type: 'join', channel: 'party \ud83c\udf89' }).ok, true);
  const named = parse({ type: 'join', channel: 'x', name: 'Ada\ud800' });
  assert.ok(!named.ok);
  assert.match(named.error.message, /valid Unicode/);
});

test('messages: the data as given, binary flagged only when true', () => {
  assert.deepEqual(messageEnvelope({ channel: 'c', seq: 3, time: 9, data: 'hi', binary: false }), {
    type: 'message',
    channel: 'c',
    seq: 3,
    time: 9,
    data: 'hi',
  });
  assert.deepEqual(messageEnvelope({ channel: 'c', seq: 4, time: 9, data: 'AQI=', binary: true }), {
    type: 'message',
    channel: 'c',
    seq: 4,
    time: 9,
    data: 'AQI=',
    binary: true,
  });
});

test('UTF-8 lengths without Buffer agree with Buffer.byteLength, lone surrogates included', () => {
  for (const text of [
    '',
    'ascii',
    'é',
    '\u07ff',
    '\u0800',
    '€',
    '😀',
    'a😀b',
    '\ud800',
    '\udc00',
    '\ud800x',
    'x\udfff',
    '\ud83d\ud83d\ude00',
    'é'.repeat(1000),
  ]) {
    assert.equal(utf8Length(text), Buffer.byteLength(text), JSON.stringify(text));
  }
});

test("a publish is bounded by its data's UTF-8 bytes, not its UTF-16 length", () => {
  const publish = (data: string, max: number) => parseClientEnvelope(JSON.stringify({ type: 'publish', channel: 'c', data }), max);
  assert.equal(publish('é'.repeat(50), 100).ok, true); // 100 bytes
  assert.equal(publish('é'.repeat(51), 101).ok, false); // 102 bytes, 51 units
  assert.equal(publish('😀'.repeat(25), 100).ok, true); // 100 bytes, 50 units
  assert.equal(publish('😀'.repeat(25) + 'x', 100).ok, false);
  assert.equal(publish('x'.repeat(101), 100).ok, false);
});

test('channel names are checked by their UTF-8 bytes', () => {
  assert.equal(checkChannel('é'.repeat(128)).ok, true);
  assert.equal(checkChannel('é'.repeat(128) + 'x').ok, false);
});

test('a gap names its range and reason', () => {
  const gap = gapEnvelope('c', 2, 5, 'expired', 'e');
  assert.equal(gap.type, 'gap');
  assert.deepEqual([gap.from, gap.to, gap.reason], [2, 5, 'expired']);
  assert.match(gap.message, /2 to 5/);
});

test("a message envelope is encoded as JSON.stringify would, escapes, binary and the publisher's id included", () => {
  const cases = [
    { channel: 'lobby', seq: 1, time: 1_700_000_000_000, data: Buffer.from('hello'), binary: false },
    {
      channel: 'a/"quoted"\\room',
      seq: 9_007_199_254_740_991,
      time: 0,
      data: Buffer.from('line\nbreak "quote" \u2028 tab\t é 😀 \u0001'),
      binary: false,
    },
    { channel: 'bin', seq: 42, time: 5, data: Buffer.from([0, 255, 10, 34]), binary: true },
    { channel: '', seq: 0, time: 1, data: Buffer.alloc(0), binary: false },
    // A wavecast.v1 publisher's id, text and binary.
    { channel: 'lobby', seq: 2, time: 3, data: Buffer.from('hi'), binary: false, from: 'q3Jx0Ew9Uj1sYv8H' },
    { channel: 'bin', seq: 43, time: 5, data: Buffer.from([1]), binary: true, from: 'id-"2"' },
  ];
  for (const message of cases) {
    const envelope = messageEnvelope({ ...message, data: message.binary ? message.data.toString('base64') : message.data.toString() });
    const text = encode(envelope);
    assert.equal(text, JSON.stringify(envelope));
    assert.deepEqual(JSON.parse(text), envelope);
  }
});
