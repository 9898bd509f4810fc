// The streaming frame parser (protocol/parser.ts): lengths, any split of the byte stream, fragmentation, protocol
// errors and their close codes, UTF-8, close frames, maxPayload, message assembly.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Parser } from '../../src/protocol/parser.js';
import { closePayload, parseAll, parseSplit, rawFrame, recorder, type ParsedEvent } from './parser-helpers.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

function only(events: ParsedEvent[]): ParsedEvent {
  assert.equal(events.length, 1, `expected one event, got ${JSON.stringify(events)}`);
  return events[0]!;
}

function assertError(events: ParsedEvent[], closeCode: number): void {
  const last = events.at(-1);
  assert.ok(last && last.type === 'error', `expected an error, got ${JSON.stringify(events)}`);
  assert.equal(last.closeCode, closeCode, last.message);
}

describe('frame lengths', () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    test(`a ${size}-byte binary message arrives intact`, () => {
      const payload = Buffer.alloc(size, 0).map((_, i) => (i * 7) & 0xff);
      const event = only(parseAll(rawFrame({ opcode: BINARY, payload })));
      assert.equal(event.type, 'message');
      assert.deepEqual((event as { data: Buffer }).data, Buffer.from(payload));
    });
  }

  test('a length in a longer encoding than needed is still read correctly', () => {
    const event = only(parseAll(rawFrame({ opcode: TEXT, payload: 'hi', lengthBits: 64 })));
    assert.equal((event as { data: Buffer }).data.toString(), 'hi');
  });

  test('as in ws, a 64-bit length with the most significant bit set fails with 1009', () => {
    assertError(parseAll(rawFrame({ opcode: BINARY, declaredLength: 1n << 63n, lengthBits: 64 })), 1009);
  });

  test('as in ws, a 64-bit length above Number.MAX_SAFE_INTEGER fails with 1009', () => {
    assertError(parseAll(rawFrame({ opcode: BINARY, declaredLength: 1n << 53n, lengthBits: 64 })), 1009);
  });
});

describe('any split of the byte stream gives the same messages', () => {
  const stream = Buffer.concat([
    rawFrame({ opcode: TEXT, payload: 'héllo wörld €𝄞' }),
    rawFrame({ opcode: BINARY, payload: Buffer.alloc(300, 9) }),
    rawFrame({ opcode: TEXT, payload: 'frag-', fin: false }),
    rawFrame({ opcode: PING, payload: 'are you there' }),
    rawFrame({ opcode: CONT, payload: '€-', fin: false }),
    rawFrame({ opcode: CONT, payload: 'end' }),
    rawFrame({ opcode: BINARY, payload: Buffer.alloc(70000, 3) }),
    rawFrame({ opcode: TEXT, payload: '' }),
    rawFrame({ opcode: CLOSE, payload: closePayload(1000, 'done') }),
  ]);
  const whole = parseAll(stream);

  test('the whole stream in one chunk', () => {
    assert.deepEqual(
      whole.map((e) => e.type),
      ['message', 'message', 'ping', 'message', 'message', 'message', 'close'],
    );
    assert.equal((whole[3] as { data: Buffer }).data.toString(), 'frag-€-end');
    assert.deepEqual(whole[6], { type: 'close', code: 1000, reason: 'done' });
  });

  test('one byte at a time', () => {
    assert.deepEqual(parseSplit(stream, [1]), whole);
  });

  for (const sizes of [[2], [3, 7], [13, 1, 64], [1000], [65536], [5, 4096, 1]]) {
    test(`chunks of ${sizes.join(', ')} bytes`, () => {
      assert.deepEqual(parseSplit(stream, sizes), whole);
    });
  }

  test('random splits', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    for (let round = 0; round < 50; round++) {
      const sizes = Array.from({ length: 20 }, () => 1 + (random() % 200));
      assert.deepEqual(parseSplit(stream, sizes), whole);
    }
  });
});

describe('fragmentation', () => {
  test('control frames may come between fragments', () => {
    const events = parseAll(
      Buffer.concat([
        rawFrame({ opcode: BINARY, payload: [1, 2], fin: false }),
        rawFrame({ opcode: PING, payload: 'p' }),
        rawFrame({ opcode: PONG, payload: 'q' }),
        rawFrame({ opcode: CONT, payload: [3], fin: false }),
        rawFrame({ opcode: CONT, payload: [4] }),
      ]),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['ping', 'pong', 'message'],
    );
    assert.deepEqual((events[2] as { data: Buffer }).data, Buffer.from([1, 2, 3, 4]));
  });

  test('65,536 fragments of 64 bytes make one message (no fragment-count limit)', () => {
    const parts: Buffer[] = [rawFrame({ opcode: BINARY, payload: Buffer.alloc(64, 1), fin: false })];
    for (let i = 1; i < 65535; i++) parts.push(rawFrame({ opcode: CONT, payload: Buffer.alloc(64, i & 0xff), fin: false }));
    parts.push(rawFrame({ opcode: CONT, payload: Buffer.alloc(64, 0xee) }));
    const event = only(parseAll(Buffer.concat(parts), { maxPayload: 100 * 1024 * 1024 }));
    const data = (event as { data: Buffer }).data;
    assert.equal(data.length, 65536 * 64);
    assert.equal(data[64 * 300], 300 & 0xff);
    assert.equal(data.at(-1), 0xee);
  });

  test('empty fragments are fine', () => {
    const event = only(
      parseAll(
        Buffer.concat([
          rawFrame({ opcode: TEXT, payload: '', fin: false }),
          rawFrame({ opcode: CONT, payload: 'x', fin: false }),
          rawFrame({ opcode: CONT, payload: '' }),
        ]),
      ),
    );
    assert.equal((event as { data: Buffer }).data.toString(), 'x');
  });
});

describe('protocol errors close with 1002', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`reserved opcode ${opcode}`, () => assertError(parseAll(rawFrame({ opcode, payload: 'x' })), 1002));
  }
  test('RSV1 set with no extension negotiated', () => assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x', rsv1: true })), 1002));
  test('RSV2 set', () => assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x', rsv2: true })), 1002));
  test('RSV3 set', () => assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x', rsv3: true })), 1002));
  test('RSV2 set even with deflate negotiated', () =>
    assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x', rsv2: true }), { allowRsv1: true }), 1002));
  for (const opcode of [CLOSE, PING, PONG]) {
    test(`control frame 0x${opcode.toString(16)} over 125 bytes`, () =>
      assertError(parseAll(rawFrame({ opcode, payload: Buffer.alloc(126) })), 1002));
    test(`fragmented control frame 0x${opcode.toString(16)}`, () =>
      assertError(parseAll(rawFrame({ opcode, payload: 'x', fin: false })), 1002));
  }
  test('continuation frame with no message open', () => assertError(parseAll(rawFrame({ opcode: CONT, payload: 'x' })), 1002));
  test('a new data frame while a fragmented message is open', () => {
    const events = parseAll(
      Buffer.concat([rawFrame({ opcode: TEXT, payload: 'a', fin: false }), rawFrame({ opcode: BINARY, payload: 'b' })]),
    );
    assertError(events, 1002);
    assert.equal(events.length, 1);
  });
  test('an unmasked frame from a client (server side)', () =>
    assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x', maskKey: null })), 1002));
  test('a masked frame from a server (client side)', () =>
    assertError(parseAll(rawFrame({ opcode: TEXT, payload: 'x' }), { expectMasked: false }), 1002));
  test('an unmasked frame is read on the client side', () => {
    const event = only(parseAll(rawFrame({ opcode: TEXT, payload: 'ok', maskKey: null }), { expectMasked: false }));
    assert.equal((event as { data: Buffer }).data.toString(), 'ok');
  });
  test('RSV1 on a continuation frame, even with deflate negotiated', () => {
    assertError(
      parseAll(
        Buffer.concat([
          rawFrame({ opcode: TEXT, payload: 'a', fin: false, rsv1: true }),
          rawFrame({ opcode: CONT, payload: 'b', rsv1: true }),
        ]),
        { allowRsv1: true },
      ),
      1002,
    );
  });
  test('RSV1 on a control frame, even with deflate negotiated', () =>
    assertError(parseAll(rawFrame({ opcode: PING, rsv1: true }), { allowRsv1: true }), 1002));
  test('RSV1 marks a compressed message once deflate is negotiated', () => {
    const event = only(parseAll(rawFrame({ opcode: BINARY, payload: [1], rsv1: true }), { allowRsv1: true }));
    assert.equal((event as { compressed: boolean }).compressed, true);
  });

  test('nothing is reported after an error', () => {
    const events = parseAll(Buffer.concat([rawFrame({ opcode: 5 }), rawFrame({ opcode: TEXT, payload: 'after' })]));
    assert.equal(events.length, 1);
  });
});

describe('UTF-8 in text messages', () => {
  const invalid: Array<[string, number[]]> = [
    ['an overlong encoding', [0xc0, 0x80]],
    ['an overlong 3-byte encoding', [0xe0, 0x80, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x61, 0x80]],
    ['a truncated sequence at the end', [0x61, 0xe2, 0x82]],
    ['byte 0xFF', [0xff]],
  ];
  for (const [name, bytes] of invalid) {
    test(`${name} closes with 1007`, () => assertError(parseAll(rawFrame({ opcode: TEXT, payload: Buffer.from(bytes) })), 1007));
    test(`${name} in a fragmented message closes with 1007`, () => {
      const payload = Buffer.from([0x68, 0x69, ...bytes, 0x21]);
      const frames = [...payload].map((byte, i) =>
        rawFrame({ opcode: i === 0 ? TEXT : CONT, payload: Buffer.from([byte]), fin: i === payload.length - 1 }),
      );
      assertError(parseAll(Buffer.concat(frames)), 1007);
    });
  }

  test('invalid text fails as soon as it can no longer be valid, mid-fragment, before the message ends', () => {
    const { parser, events } = recorder();
    parser.push(rawFrame({ opcode: TEXT, payload: 'valid start ', fin: false }));
    assert.equal(events.length, 0);
    parser.push(rawFrame({ opcode: CONT, payload: Buffer.from([0x61, 0xed, 0xa0]), fin: false }));
    assertError(events, 1007);
  });

  test('invalid text in one frame fails before the rest of the frame has arrived', () => {
    const frame = rawFrame({ opcode: TEXT, payload: Buffer.concat([Buffer.from('abc'), Buffer.from([0xf8]), Buffer.alloc(1000, 0x61)]) });
    const { parser, events } = recorder();
    parser.push(frame.subarray(0, 20));
    assertError(events, 1007);
  });

  test('valid multi-byte characters split at every position, across fragments and chunks', () => {
    const text = 'aé€𝄞z';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const stream = Buffer.concat([
        rawFrame({ opcode: TEXT, payload: bytes.subarray(0, cut), fin: false }),
        rawFrame({ opcode: CONT, payload: bytes.subarray(cut) }),
      ]);
      for (const size of [1, 3, 1000]) {
        const event = only(parseSplit(stream, [size]));
        assert.equal((event as { data: Buffer }).data.toString(), text);
      }
    }
  });

  test('binary messages are not checked', () => {
    const event = only(parseAll(rawFrame({ opcode: BINARY, payload: Buffer.from([0xff, 0xfe]) })));
    assert.equal(event.type, 'message');
  });
});

describe('close frames', () => {
  test('a 1-byte close payload is 1002', () => assertError(parseAll(rawFrame({ opcode: CLOSE, payload: [0x03] })), 1002));
  test('a close frame with no payload is reported as 1005', () => {
    assert.deepEqual(only(parseAll(rawFrame({ opcode: CLOSE }))), { type: 'close', code: 1005, reason: '' });
  });
  const accepted = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  for (const code of accepted) {
    test(`code ${code} is accepted`, () => {
      assert.deepEqual(only(parseAll(rawFrame({ opcode: CLOSE, payload: closePayload(code, 'why') }))), {
        type: 'close',
        code,
        reason: 'why',
      });
    });
  }
  const rejected = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of rejected) {
    test(`code ${code} is a protocol error (1002)`, () =>
      assertError(parseAll(rawFrame({ opcode: CLOSE, payload: closePayload(code) })), 1002));
  }
  test('a reason that is not UTF-8 is 1007', () => {
    assertError(parseAll(rawFrame({ opcode: CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xc0, 0xaf])]) })), 1007);
  });
  test('nothing is parsed after a close frame', () => {
    const events = parseAll(
      Buffer.concat([rawFrame({ opcode: CLOSE, payload: closePayload(1000) }), rawFrame({ opcode: TEXT, payload: 'late' })]),
    );
    assert.equal(events.length, 1);
  });
});

describe('maxPayload', () => {
  test('a frame over the limit is refused from its header, before its payload arrives (1009)', () => {
    const { parser, events } = recorder({ maxPayload: 1000 });
    const frame = rawFrame({ opcode: BINARY, payload: Buffer.alloc(1001) });
    parser.push(frame.subarray(0, 8));
    assertError(events, 1009);
  });
  test('a message exactly at the limit is accepted', () => {
    assert.equal(only(parseAll(rawFrame({ opcode: BINARY, payload: Buffer.alloc(1000) }), { maxPayload: 1000 })).type, 'message');
  });
  test('the running total of a fragmented message is checked (1009)', () => {
    const events = parseAll(
      Buffer.concat([
        rawFrame({ opcode: BINARY, payload: Buffer.alloc(600), fin: false }),
        rawFrame({ opcode: CONT, payload: Buffer.alloc(600) }),
      ]),
      { maxPayload: 1000 },
    );
    assertError(events, 1009);
  });
  test('control frames do not count toward a message', () => {
    const events = parseAll(
      Buffer.concat([
        rawFrame({ opcode: BINARY, payload: Buffer.alloc(900), fin: false }),
        rawFrame({ opcode: PING, payload: Buffer.alloc(125) }),
        rawFrame({ opcode: CONT, payload: Buffer.alloc(100) }),
      ]),
      { maxPayload: 1000 },
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['ping', 'message'],
    );
  });
});

describe('message assembly', () => {
  test('fragments of mixed sizes, small and large, join in order whatever the chunking', () => {
    const sizes = [1, 5000, 3, 20000, 4096, 4095, 0, 70000, 2, 16384, 7];
    let counter = 0;
    const payloads = sizes.map((size) => Buffer.alloc(size).map(() => counter++ & 0xff));
    const frames = payloads.map((payload, i) => rawFrame({ opcode: i === 0 ? BINARY : CONT, payload, fin: i === payloads.length - 1 }));
    const expected = Buffer.concat(payloads);
    for (const chunking of [[1e6], [1], [7, 4093], [65536], [1000, 3, 20000]]) {
      const event = only(parseSplit(Buffer.concat(frames), chunking));
      assert.ok((event as { data: Buffer }).data.equals(expected), `chunks ${chunking.join(',')}`);
    }
  });

  test('a message handed out (not copied) stays intact after later messages are parsed', () => {
    const keep: Buffer[] = [];
    const parser = new Parser(
      { onMessage: (data) => keep.push(data), onPing() {}, onPong() {}, onClose() {}, onError: (e) => assert.fail(e.message) },
      { expectMasked: true },
    );
    for (let i = 0; i < 5; i++) {
      for (const size of [9000, 100]) {
        const frame = rawFrame({ opcode: BINARY, payload: Buffer.alloc(size, i) });
        parser.push(frame.subarray(0, 50));
        parser.push(frame.subarray(50));
      }
    }
    assert.equal(keep.length, 10);
    keep.forEach((data, i) => assert.ok(data.equals(Buffer.alloc(i % 2 ? 100 : 9000, i >> 1))));
  });
});
