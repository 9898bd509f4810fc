// The protocol state machine without a socket: bytes and calls in, the handler's events and the frames it
// writes out (closing handshake from each side, close codes, ping/pong, failing with a code, ordering
// behind an inflation, deferred events).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolMachine, type Inflater, type ProtocolHandler, type ProtocolOptions } from '../../src/protocol/machine.js';
import { ProtocolError } from '../../src/protocol/parser.js';
import { Opcode } from '../../src/protocol/frame.js';
import { closePayload, rawFrame } from './parser-helpers.js';

const { Text: TEXT, Binary: BINARY, Continuation: CONT, Close: CLOSE, Ping: PING, Pong: PONG } = Opcode;
const KEY = Buffer.from([9, 8, 7, 6]);

/** Reads the frames the machine wrote: `close <code> <reason>` (or `close` when empty), and whether masked. */
function describeFrame(bytes: Buffer): string {
  const opcode = bytes[0]! & 0x0f;
  const masked = (bytes[1]! & 0x80) !== 0;
  const length = bytes[1]! & 0x7f;
  let payload: Buffer = Buffer.from(bytes.subarray(masked ? 6 : 2, (masked ? 6 : 2) + length));
  if (masked) payload = payload.map((b, i) => b ^ bytes[2 + (i % 4)]!) as Buffer;
  const mark = masked ? ' (masked)' : '';
  if (opcode !== CLOSE) return `frame ${opcode} ${payload.toString()}${mark}`;
  if (payload.length === 0) return `write close${mark}`;
  return `write close ${`${payload.readUInt16BE(0)} ${payload.subarray(2).toString()}`.trimEnd()}${mark}`;
}

interface Run {
  machine: ProtocolMachine;
  events: string[];
  errors: ProtocolError[];
}

/** A handler that records what the machine asks for into `events` (and the errors into `errors`). */
function recordingHandler(events: string[], errors: ProtocolError[] = []): ProtocolHandler {
  return {
    onMessage: (data, isBinary) => events.push(`message ${isBinary ? 'binary' : 'text'} ${data.toString()}`),
    onPing: (data) => events.push(`ping ${data.toString()}`),
    onPong: (data) => events.push(`pong ${data.toString()}`),
    onClosing: () => events.push('closing'),
    onError: (error) => {
      errors.push(error);
      events.push(`error ${error.closeCode}`);
    },
    write: (frames) => events.push(describeFrame(Buffer.concat(frames))),
    end: () => events.push('end'),
    awaitClose: () => events.push('await close'),
    holdReading: (hold) => events.push(hold ? 'hold reading' : 'resume reading'),
    defer: () => events.push('defer'),
    idle: () => events.push('idle'),
    maskKey: () => KEY,
  };
}

function machine(options: Partial<ProtocolOptions> = {}, inflater: Inflater | null = null): Run {
  const events: string[] = [];
  const errors: ProtocolError[] = [];
  const m = new ProtocolMachine(recordingHandler(events, errors), { expectMasked: true, ...options }, inflater);
  return { machine: m, events, errors };
}

/** An inflater the test answers by hand: `pending` holds the calls not answered yet. */
function manualInflater(): Inflater & { pending: { data: Buffer; callback: (error: Error | null, result?: Buffer) => void }[] } {
  const pending: { data: Buffer; callback: (error: Error | null, result?: Buffer) => void }[] = [];
  return {
    pending,
    decompress(data, _fin, callback) {
      pending.push({ data: Buffer.from(data), callback });
    },
  };
}

describe('closing handshake', () => {
  test('the peer closes first: its close is answered with the same code, then the transport ends; the close is clean', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: CLOSE, payload: closePayload(1000, 'bye') }));
    assert.deepEqual(events, ['closing', 'write close 1000 bye', 'end', 'await close']);
    assert.equal(m.closeCode, 1000);
    assert.equal(m.closeReason.toString(), 'bye');
    assert.equal(m.wasClean, true);
  });

  test('we close first: our close frame goes, then we wait; the peer`s close ends the transport', () => {
    const { machine: m, events } = machine();
    m.close(1001, 'going');
    assert.deepEqual(events, ['closing', 'write close 1001 going', 'await close']);
    assert.equal(m.wasClean, false);
    events.length = 0;
    m.push(rawFrame({ opcode: CLOSE, payload: closePayload(1001) }));
    assert.deepEqual(events, ['closing', 'end']);
    assert.equal(m.closeCode, 1001);
    assert.equal(m.wasClean, true);
  });

  test('a client masks the close frames it writes', () => {
    const { machine: m, events } = machine({ expectMasked: false });
    m.push(rawFrame({ opcode: CLOSE, payload: closePayload(4000, 'x'), maskKey: null }));
    assert.deepEqual(events, ['closing', 'write close 4000 x (masked)', 'end', 'await close']);
  });

  test('a close frame without a code is reported as 1005 and answered with an empty close frame', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: CLOSE }));
    assert.deepEqual(events, ['closing', 'write close', 'end', 'await close']);
    assert.equal(m.closeCode, 1005);
  });

  test('close() again while waiting for the peer ends the transport only once the peer can send nothing more', () => {
    const { machine: m, events } = machine();
    m.close(1000);
    events.length = 0;
    m.closeAgain();
    assert.deepEqual(events, []);
    m.push(rawFrame({ opcode: CLOSE, payload: closePayload(1000) }));
    events.length = 0;
    m.closeAgain();
    assert.deepEqual(events, ['end']);
  });

  test('nothing after the peer`s close frame is read, in the same chunk or later', () => {
    const { machine: m, events } = machine();
    m.push(Buffer.concat([rawFrame({ opcode: CLOSE, payload: closePayload(1000) }), rawFrame({ opcode: TEXT, payload: 'late' })]));
    m.push(rawFrame({ opcode: TEXT, payload: 'later' }));
    m.push(rawFrame({ opcode: PING, payload: 'p' }));
    assert.deepEqual(events, ['closing', 'write close 1000', 'end', 'await close']);
    assert.equal(m.finished, true);
  });

  test('once the transport is gone, nothing is written', () => {
    const { machine: m, events } = machine();
    m.gone();
    m.close(1000);
    m.fail(new ProtocolError('x', 1002, 'X'));
    assert.deepEqual(events, ['closing']);
  });
});

describe('close codes', () => {
  for (const code of [1005, 1006, 1015, 999, 1004, 1016, 2999, 5000]) {
    test(`close(${code}) is refused (TypeError) and writes nothing`, () => {
      const { machine: m, events } = machine();
      assert.throws(() => m.close(code), TypeError);
      assert.deepEqual(events, []);
    });
    test(`a close frame carrying ${code} fails the connection with 1002`, () => {
      const { machine: m, events, errors } = machine();
      m.push(rawFrame({ opcode: CLOSE, payload: closePayload(code) }));
      assert.deepEqual(events, ['closing', 'write close 1002', 'await close', 'end', 'error 1002']);
      assert.equal(errors[0]!.code, 'WS_ERR_INVALID_CLOSE_CODE');
      assert.equal(m.closeCode, 1006);
      assert.equal(m.wasClean, false);
    });
  }

  test('a reason over 123 bytes is refused (RangeError)', () => {
    const { machine: m, events } = machine();
    assert.throws(() => m.close(1000, 'x'.repeat(124)), RangeError);
    m.close(1000, 'x'.repeat(123));
    assert.equal(events[1], `write close 1000 ${'x'.repeat(123)}`);
  });

  test('a close reason that is not UTF-8 fails the connection with 1007', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xc3, 0x28])]) }));
    assert.deepEqual(events, ['closing', 'write close 1007', 'await close', 'end', 'error 1007']);
  });

  test('a one-byte close payload fails the connection with 1002', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: CLOSE, payload: [3] }));
    assert.deepEqual(events.at(-1), 'error 1002');
  });
});

describe('ping and pong', () => {
  test('control frames between the fragments of a message are handed out before the message', () => {
    const { machine: m, events } = machine();
    m.push(
      Buffer.concat([
        rawFrame({ opcode: TEXT, payload: 'hel', fin: false }),
        rawFrame({ opcode: PING, payload: 'p1' }),
        rawFrame({ opcode: PONG, payload: 'p2' }),
        rawFrame({ opcode: CONT, payload: 'lo' }),
      ]),
    );
    assert.deepEqual(events, ['ping p1', 'pong p2', 'message text hello']);
  });

  test('a ping over 125 bytes fails the connection with 1002', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: PING, payload: Buffer.alloc(126) }));
    assert.deepEqual(events, ['closing', 'write close 1002', 'await close', 'end', 'error 1002']);
  });

  test('a fragmented ping fails the connection with 1002', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: PING, payload: 'x', fin: false }));
    assert.equal(events.at(-1), 'error 1002');
  });
});

describe('failing with a close code', () => {
  const cases: [string, Partial<ProtocolOptions>, Buffer, number][] = [
    ['RSV2 set', {}, rawFrame({ opcode: TEXT, payload: 'x', rsv2: true }), 1002],
    ['RSV1 without permessage-deflate', {}, rawFrame({ opcode: TEXT, payload: 'x', rsv1: true }), 1002],
    ['an unknown opcode', {}, rawFrame({ opcode: 0x3 }), 1002],
    ['a continuation with no message', {}, rawFrame({ opcode: CONT, payload: 'x' }), 1002],
    ['an unmasked frame to a server', {}, rawFrame({ opcode: TEXT, payload: 'x', maskKey: null }), 1002],
    ['a masked frame to a client', { expectMasked: false }, rawFrame({ opcode: TEXT, payload: 'x' }), 1002],
    ['text that is not UTF-8', {}, rawFrame({ opcode: TEXT, payload: [0xff, 0xfe] }), 1007],
    ['a message over maxPayload', { maxPayload: 4 }, rawFrame({ opcode: BINARY, payload: '12345' }), 1009],
    [
      'more fragments than maxFragments',
      { maxFragments: 2 },
      Buffer.concat([
        rawFrame({ opcode: BINARY, payload: 'a', fin: false }),
        rawFrame({ opcode: CONT, payload: 'b', fin: false }),
        rawFrame({ opcode: CONT, payload: 'c' }),
      ]),
      1008,
    ],
  ];
  for (const [name, options, bytes, code] of cases) {
    test(`${name}: close frame ${code}, the transport ended, then the error`, () => {
      const { machine: m, events, errors } = machine(options);
      m.push(bytes);
      assert.deepEqual(
        events.filter((e) => !e.startsWith('message')),
        ['closing', `write close ${code}${options.expectMasked === false ? ' (masked)' : ''}`, 'await close', 'end', `error ${code}`],
      );
      assert.equal(errors[0]!.closeCode, code);
      assert.equal(m.finished, true);
    });
  }

  test('fail() after our close frame went does not write a second one', () => {
    const { machine: m, events } = machine();
    m.close(1000);
    events.length = 0;
    m.fail(new ProtocolError('deflate failed', 1011, 'WS_ERR_DEFLATE'));
    assert.deepEqual(events, ['closing', 'end', 'error 1011']);
  });
});

describe('compressed messages', () => {
  test('a compressed message followed by a close: the message comes first, then the close is answered', () => {
    const inflater = manualInflater();
    const { machine: m, events } = machine({ allowRsv1: true }, inflater);
    m.push(
      Buffer.concat([
        rawFrame({ opcode: TEXT, payload: 'zzz', rsv1: true }),
        rawFrame({ opcode: PING, payload: 'p' }),
        rawFrame({ opcode: CLOSE, payload: closePayload(1000) }),
      ]),
    );
    assert.deepEqual(events, ['hold reading']);
    assert.equal(m.waiting, true);
    assert.equal(inflater.pending[0]!.data.toString(), 'zzz');
    inflater.pending[0]!.callback(null, Buffer.from('hello'));
    assert.deepEqual(events, [
      'hold reading',
      'message text hello',
      'ping p',
      'closing',
      'write close 1000',
      'end',
      'await close',
      'resume reading',
      'idle',
    ]);
    assert.equal(m.waiting, false);
  });

  test('messages keep their order across inflations', () => {
    const inflater = manualInflater();
    const { machine: m, events } = machine({ allowRsv1: true }, inflater);
    m.push(rawFrame({ opcode: BINARY, payload: 'a', rsv1: true }));
    m.push(rawFrame({ opcode: BINARY, payload: 'plain' }));
    m.push(rawFrame({ opcode: BINARY, payload: 'b', rsv1: true }));
    inflater.pending[0]!.callback(null, Buffer.from('A'));
    assert.equal(inflater.pending.length, 2);
    inflater.pending[1]!.callback(null, Buffer.from('B'));
    assert.deepEqual(
      events.filter((e) => e.startsWith('message')),
      ['message binary A', 'message binary plain', 'message binary B'],
    );
  });

  test('inflated text that is not UTF-8 fails with 1007, and what waited behind it is dropped', () => {
    const inflater = manualInflater();
    const { machine: m, events } = machine({ allowRsv1: true }, inflater);
    m.push(Buffer.concat([rawFrame({ opcode: TEXT, payload: 'z', rsv1: true }), rawFrame({ opcode: TEXT, payload: 'next' })]));
    inflater.pending[0]!.callback(null, Buffer.from([0xff]));
    assert.deepEqual(events, ['hold reading', 'closing', 'write close 1007', 'await close', 'end', 'error 1007', 'idle']);
  });

  test('an inflation error is 1007 unless it names its own close code (1009 past maxPayload)', () => {
    for (const [error, code] of [
      [new Error('invalid stored block lengths'), 1007],
      [new ProtocolError('Max payload size exceeded', 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 1009],
    ] as const) {
      const inflater = manualInflater();
      const { machine: m, events } = machine({ allowRsv1: true }, inflater);
      m.push(rawFrame({ opcode: BINARY, payload: 'z', rsv1: true }));
      inflater.pending[0]!.callback(error);
      assert.deepEqual(events.slice(1), ['closing', `write close ${code}`, 'await close', 'end', `error ${code}`, 'idle']);
    }
  });

  test('an inflation that ends after the transport is gone hands nothing out', () => {
    const inflater = manualInflater();
    const { machine: m, events } = machine({ allowRsv1: true }, inflater);
    m.push(rawFrame({ opcode: BINARY, payload: 'z', rsv1: true }));
    m.gone();
    inflater.pending[0]!.callback(null, Buffer.from('late'));
    assert.deepEqual(events, ['hold reading', 'idle']);
  });
});

describe('deferred events (synchronousEvents false)', () => {
  test('one message, ping or pong per resumeEvents(), reading held meanwhile; a close follows in order', () => {
    const { machine: m, events } = machine({ synchronousEvents: false });
    m.push(
      Buffer.concat([
        rawFrame({ opcode: TEXT, payload: 'one' }),
        rawFrame({ opcode: PING, payload: 'p' }),
        rawFrame({ opcode: CLOSE, payload: closePayload(1000) }),
      ]),
    );
    assert.deepEqual(events, ['hold reading', 'defer']);
    events.length = 0;
    m.resumeEvents();
    assert.deepEqual(events, ['message text one', 'hold reading', 'defer']);
    events.length = 0;
    m.resumeEvents();
    assert.deepEqual(events, ['ping p', 'closing', 'write close 1000', 'end', 'await close', 'resume reading', 'idle']);
  });
});

describe('at rest, and reused for another connection', () => {
  test('at rest only between messages with nothing under way: not in a header, a payload, a fragmented message, an inflation or a close', () => {
    const { machine: m } = machine();
    assert.equal(m.atRest, true);
    const frame = rawFrame({ opcode: TEXT, payload: 'hello' });
    m.push(frame.subarray(0, 1));
    assert.equal(m.atRest, false, 'part of a header');
    m.push(frame.subarray(1, 7));
    assert.equal(m.atRest, false, 'part of a payload');
    m.push(frame.subarray(7));
    assert.equal(m.atRest, true);
    m.push(rawFrame({ opcode: TEXT, payload: 'first part', fin: false }));
    assert.equal(m.atRest, false, 'a fragmented message');
    m.push(rawFrame({ opcode: CONT, payload: ', last' }));
    assert.equal(m.atRest, true);
    m.push(rawFrame({ opcode: PING, payload: 'p' }));
    assert.equal(m.atRest, true, 'a ping leaves nothing under way');

    const inflater = manualInflater();
    const deflating = machine({ allowRsv1: true }, inflater).machine;
    deflating.push(rawFrame({ opcode: BINARY, payload: 'z', rsv1: true }));
    assert.equal(deflating.atRest, false, 'an inflation');
    inflater.pending[0]!.callback(null, Buffer.from('x'));
    assert.equal(deflating.atRest, true);

    const closing = machine().machine;
    closing.close(1000);
    assert.equal(closing.atRest, false, 'our close frame sent');
    const closed = machine().machine;
    closed.push(rawFrame({ opcode: CLOSE, payload: closePayload(1000) }));
    assert.equal(closed.atRest, false, 'the peer`s close frame received');
    const failed = machine().machine;
    failed.push(rawFrame({ opcode: 3 }));
    assert.equal(failed.atRest, false, 'failed');
    const gone = machine().machine;
    gone.gone();
    assert.equal(gone.atRest, false, 'the transport gone');
  });

  test('a reused machine hands out to its new handler only, with the new options (role, maxPayload, compression)', () => {
    const first = machine({ maxPayload: 4 });
    const m = first.machine;
    m.push(rawFrame({ opcode: TEXT, payload: 'abc' }));
    assert.deepEqual(first.events, ['message text abc']);
    const second: string[] = [];
    m.reuse(recordingHandler(second), { expectMasked: false, maxPayload: 0 }, null);
    // A client's options now: unmasked frames, no limit; the first handler hears nothing more.
    m.push(rawFrame({ opcode: TEXT, payload: 'longer than four', maskKey: null }));
    assert.deepEqual(second, ['message text longer than four']);
    assert.deepEqual(first.events, ['message text abc']);
    // Its close frames are masked, as a client's.
    m.close(1000);
    assert.deepEqual(second.slice(1), ['closing', 'write close 1000 (masked)', 'await close']);

    // Reused with compression: a compressed message goes to the new inflater.
    const plain = machine().machine;
    const third: string[] = [];
    const inflater = manualInflater();
    plain.reuse(recordingHandler(third), { expectMasked: true, allowRsv1: true }, inflater);
    plain.push(rawFrame({ opcode: TEXT, payload: 'z', rsv1: true }));
    assert.equal(inflater.pending.length, 1);
    inflater.pending[0]!.callback(null, Buffer.from('inflated'));
    assert.deepEqual(third, ['hold reading', 'message text inflated', 'resume reading', 'idle']);
    // And back to one without: RSV1 is a protocol error again.
    const fourth: string[] = [];
    plain.reuse(recordingHandler(fourth), { expectMasked: true }, null);
    plain.push(rawFrame({ opcode: TEXT, payload: 'z', rsv1: true }));
    assert.deepEqual(fourth, ['closing', 'write close 1002', 'await close', 'end', 'error 1002']);
  });

  test('reuse() refuses a machine that is not at rest', () => {
    const { machine: m, events } = machine();
    m.push(rawFrame({ opcode: TEXT, payload: 'part', fin: false }));
    assert.throws(() => m.reuse(recordingHandler(events), { expectMasked: true }, null), /only at rest/);
  });
});
