// A connection, as a `ws` user sees it, side by side with `ws` 8: every scenario runs once with `ws` and
// once with Wavecast (test/helpers/ws-compat.ts) and what a user notices must be the same: the message
// objects, what send(), ping() and close() take and refuse, the errors and close codes of a peer's bad
// frames, the browser's face (handlers, listeners, events) and the WebIDL shape of the class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepStrictEqual } from 'node:assert';
import type Ws from 'ws';
import { rawFrame } from '../protocol/parser-helpers.js';
import { rawConnect } from '../server/raw-client.js';
import { connected, describeError, ioSettled, listening, overDuplex, sameAsWs, shutDown, trace } from '../helpers/ws-compat.js';

test('a received text message is a genuine Buffer: deepStrictEqual to Buffer.from, the Buffer prototype', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const got = new Promise<[Buffer, boolean]>((resolve) =>
      peer.once('message', (data: Buffer, isBinary: boolean) => resolve([data, isBinary])),
    );
    client.send('hi');
    const [message, isBinary] = await got;
    let equal = true;
    try {
      deepStrictEqual(message, Buffer.from('hi'));
    } catch {
      equal = false;
    }
    await shutDown(wss);
    return {
      equal,
      isBinary,
      prototype: Object.getPrototypeOf(message) === Buffer.prototype,
      isBuffer: Buffer.isBuffer(message),
      text: message.toString(),
    };
  });
  assert.deepEqual(seen, { equal: true, isBinary: false, prototype: true, isBuffer: true, text: 'hi' });
});

test('send() takes no data (an empty binary message), numbers, arrays of bytes, ArrayBuffers and views', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      peer.on('message', (data: Buffer, isBinary: boolean) => {
        got.push(`${isBinary ? 'binary' : 'text'} [${[...data].join(',')}]`);
        if (got.length === 7) resolve();
      });
    });
    const calledBack: string[] = [];
    (client.send as (data?: unknown, cb?: (error?: Error) => void) => void)(undefined, (error) => calledBack.push(`undefined ${error}`));
    (client.send as (data?: unknown) => void)(null);
    client.send('');
    client.send(42);
    client.send([1, 2, 3]);
    client.send(new Uint16Array([0x0201]).buffer);
    client.send(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
    await done;
    await shutDown(wss);
    return { got, calledBack };
  });
  assert.deepEqual(seen.got, ['binary []', 'binary []', 'text []', 'text [52,50]', 'binary [1,2,3]', 'binary [1,2]', 'binary [8,7]']);
});

test('what send(), ping(), pong() and close() refuse, and how', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const client = new impl.WebSocket(url);
    const refused: string[] = [];
    const attempt = (name: string, call: () => void) => {
      try {
        call();
        refused.push(`${name}: accepted`);
      } catch (error) {
        refused.push(`${name}: ${describeError(error as Error)}`);
      }
    };
    attempt('send while connecting', () => client.send('x'));
    attempt('ping while connecting', () => client.ping());
    await new Promise((resolve) => client.once('open', resolve));
    attempt('send an object', () => client.send({} as never));
    attempt('ping of 126 bytes', () => client.ping(Buffer.alloc(126)));
    attempt('pong of 126 bytes', () => client.pong('x'.repeat(126)));
    attempt('close 1005', () => client.close(1005));
    attempt('close 999', () => client.close(999));
    attempt('close "1000"', () => client.close('1000' as never));
    attempt('close with a 124-byte reason', () => client.close(1000, 'x'.repeat(124)));
    attempt('close with a reason that is a number', () => client.close(1000, 7 as never));
    client.close(4000, 'fine');
    const afterClose: string[] = [];
    await new Promise<void>((resolve) =>
      client.send('late', (error) => {
        afterClose.push(`send after close: ${error?.message}, bufferedAmount ${client.bufferedAmount}`);
        resolve();
      }),
    );
    await new Promise((resolve) => client.once('close', resolve));
    await shutDown(wss);
    return { refused, afterClose };
  });
  assert.equal(seen.refused[0], 'send while connecting: error Error: WebSocket is not open: readyState 0 (CONNECTING)');
  assert.equal(seen.refused[3], 'ping of 126 bytes: error RangeError: The data size must not be greater than 125 bytes');
  assert.equal(seen.afterClose[0], 'send after close: WebSocket is not open: readyState 2 (CLOSING), bufferedAmount 4');
});

// Bad frames from a client, each as a raw client sends it after the handshake: what the server's socket
// reports (error, then close) and the close frame the client gets back.
const BAD_FRAMES: Array<[string, Buffer]> = [
  ['RSV2 set', rawFrame({ opcode: 0x1, payload: 'x', rsv2: true })],
  ['RSV1 without an extension', rawFrame({ opcode: 0x1, payload: 'x', rsv1: true })],
  ['a continuation frame first', rawFrame({ opcode: 0x0, payload: 'x' })],
  [
    'a new message inside a fragmented one',
    Buffer.concat([rawFrame({ opcode: 0x1, payload: 'a', fin: false }), rawFrame({ opcode: 0x2, payload: 'b' })]),
  ],
  ['a fragmented ping', rawFrame({ opcode: 0x9, payload: 'x', fin: false })],
  ['a ping of 126 bytes', rawFrame({ opcode: 0x9, payload: Buffer.alloc(126) })],
  ['a close frame of 1 byte', rawFrame({ opcode: 0x8, payload: [3] })],
  ['opcode 3', rawFrame({ opcode: 0x3, payload: 'x' })],
  ['opcode 11', rawFrame({ opcode: 0xb })],
  ['an unmasked frame', rawFrame({ opcode: 0x1, payload: 'x', maskKey: null })],
  ['a length above 2^53 - 1', rawFrame({ opcode: 0x2, declaredLength: 1n << 60n, lengthBits: 64 })],
  ['invalid UTF-8 text', rawFrame({ opcode: 0x1, payload: [0xc3, 0x28] })],
  ['close code 1005', rawFrame({ opcode: 0x8, payload: [0x03, 0xed] })],
  ['close code 2999', rawFrame({ opcode: 0x8, payload: [0x0b, 0xb7] })],
  ['a close reason that is not UTF-8', rawFrame({ opcode: 0x8, payload: [0x03, 0xe8, 0xff] })],
  ['a message over maxPayload', rawFrame({ opcode: 0x2, payload: Buffer.alloc(101) })],
];

test('a bad frame: the detecting side reports the error (ws class, message and code) and 1006; the peer gets the code and no reason', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, port } = await listening(impl, { maxPayload: 100 });
    const outcomes: Record<string, { server: string[]; closeFrame: string }> = {};
    for (const [name, bytes] of BAD_FRAMES) {
      const accepted = new Promise<Ws>((resolve) => wss.once('connection', resolve));
      const raw = await rawConnect(port);
      const peer = await accepted;
      const server = trace(peer);
      raw.socket.write(bytes);
      let closeFrame = 'none';
      for (;;) {
        const frame = await raw.nextFrame().catch(() => null);
        if (frame === null) break;
        if (frame.opcode !== 0x8) continue;
        closeFrame = `${frame.payload.readUInt16BE(0)} "${frame.payload.subarray(2).toString()}"`;
        break;
      }
      outcomes[name] = { server: await server, closeFrame };
      raw.socket.destroy();
    }
    await shutDown(wss);
    return outcomes;
  });
  assert.deepEqual(seen['an unmasked frame'], {
    server: ['error RangeError WS_ERR_EXPECTED_MASK: Invalid WebSocket frame: MASK must be set', 'close 1006'],
    closeFrame: '1002 ""',
  });
  assert.deepEqual(seen['invalid UTF-8 text'], {
    server: ['error Error WS_ERR_INVALID_UTF8: Invalid WebSocket frame: invalid UTF-8 sequence', 'close 1006'],
    closeFrame: '1007 ""',
  });
  assert.deepEqual(seen['a message over maxPayload'], {
    server: ['error RangeError WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: Max payload size exceeded', 'close 1006'],
    closeFrame: '1009 ""',
  });
});

test('a bad frame from the server: the client reports it and 1006; the server sees the code', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const clientSide = trace(client);
    const serverSide = trace(peer);
    // A masked frame from a server, written under the server's socket.
    (peer as unknown as { _socket: { write(data: Buffer): void } })._socket.write(rawFrame({ opcode: 0x1, payload: 'masked' }));
    const result = { client: await clientSide, server: await serverSide };
    await shutDown(wss);
    return result;
  });
  assert.deepEqual(seen, {
    client: ['error RangeError WS_ERR_UNEXPECTED_MASK: Invalid WebSocket frame: MASK must be clear', 'close 1006'],
    server: ['close 1002'],
  });
});

test('onclose and addEventListener("close") are separate, as in browsers; the events have the WHATWG shape', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    wss.on('connection', (peer: Ws) => {
      peer.on('message', (data: Buffer, isBinary: boolean) => peer.send(data, { binary: isBinary }));
    });
    const client = new impl.WebSocket(url);
    const calls: string[] = [];
    const handler = (event: { type: string; code: number; reason: string; wasClean: boolean }) =>
      calls.push(`onclose ${event.type} ${event.code} ${event.reason} ${event.wasClean}`);
    const listener = (event: { code: number }) => calls.push(`listener ${event.code}`);
    client.onclose = handler as never;
    client.addEventListener('close', listener as never);
    client.addEventListener('close', listener as never);
    client.addEventListener(
      'message',
      ((event: { type: string; data: unknown; target: unknown }) => {
        calls.push(`message ${event.type} ${typeof event.data} ${String(event.data)} ${event.target === client}`);
      }) as never,
      { once: true },
    );
    client.onmessage = ((event: { data: unknown }) =>
      calls.push(`onmessage ${Buffer.isBuffer(event.data) ? 'Buffer' : typeof event.data}`)) as never;
    const gotHandler = client.onclose === (handler as never);
    client.removeEventListener('close', handler as never);
    await new Promise((resolve) => client.once('open', resolve));
    client.send('text');
    await new Promise((resolve) => client.once('message', resolve));
    client.send(Buffer.from('bin'));
    await new Promise((resolve) => client.once('message', resolve));
    const onopenBefore = client.onopen;
    client.onmessage = null;
    client.close(4001, 'bye');
    await new Promise((resolve) => client.once('close', resolve));
    await shutDown(wss);
    const eventKeys: string[] = [];
    client.addEventListener('error', ((event: object) => {
      for (const key in event) eventKeys.push(key);
    }) as never);
    client.emit('error', new Error('made up'));
    return { calls, gotHandler, onopenBefore, listeners: client.listenerCount('message'), eventKeys };
  });
  assert.deepEqual(seen.calls, [
    'message message string text true',
    'onmessage string',
    'onmessage Buffer',
    'onclose close 4001 bye true',
    'listener 4001',
  ]);
});

test('WebIDL shape: read-only enumerable ready-state constants, enumerable attributes', async () => {
  const seen = await sameAsWs(async (impl) => {
    const describe = (target: object, name: string) => {
      const d = Object.getOwnPropertyDescriptor(target, name);
      if (d === undefined) return 'missing';
      return `${'value' in d ? `value ${String(d.value)}${d.writable ? ' writable' : ''}` : `accessor${d.set ? ' settable' : ''}`}${d.enumerable ? ' enumerable' : ''}${d.configurable ? ' configurable' : ''}`;
    };
    const shape: Record<string, string> = {};
    for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) {
      shape[`class ${name}`] = describe(impl.WebSocket, name);
      shape[`prototype ${name}`] = describe(impl.WebSocket.prototype, name);
    }
    for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
      let proto: object | null = impl.WebSocket.prototype;
      while (proto !== null && Object.getOwnPropertyDescriptor(proto, name) === undefined) proto = Object.getPrototypeOf(proto);
      shape[name] = proto === null ? 'missing' : describe(proto, name);
    }
    for (const name of ['onopen', 'onerror', 'onclose', 'onmessage']) {
      let proto: object | null = impl.WebSocket.prototype;
      while (proto !== null && Object.getOwnPropertyDescriptor(proto, name) === undefined) proto = Object.getPrototypeOf(proto);
      shape[name] = proto === null ? 'missing' : describe(proto, name).replace(' configurable', '');
    }
    return shape;
  });
  assert.equal(seen['class OPEN'], 'value 1 enumerable');
  assert.equal(seen.readyState, 'accessor enumerable configurable');
});

test('Blobs: send(), ping() and pong() read them in order with what is sent around them; binaryType "blob" hands out Blobs', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const got: string[] = [];
    peer.binaryType = 'blob' as never;
    const done = new Promise<void>((resolve) => {
      peer.on('ping', (data: Buffer) => got.push(`ping ${data}`));
      peer.on('pong', (data: Buffer) => got.push(`pong ${data}`));
      peer.on('message', async (data: unknown, isBinary: boolean) => {
        const kind = data instanceof Blob ? `Blob(${(data as Blob).size})` : Buffer.isBuffer(data) ? 'Buffer' : typeof data;
        got.push(`message ${isBinary ? 'binary' : 'text'} ${kind}`);
        if (got.length === 5) resolve();
      });
    });
    const callbacks: string[] = [];
    client.send(new Blob(['blob one']), (error) => callbacks.push(`blob ${error ?? 'ok'}`));
    client.send('text after the blob', (error) => callbacks.push(`text ${error ?? 'ok'}`));
    client.ping(new Blob(['ping!']));
    client.pong(new Blob(['pong!']));
    client.send(new Blob([new Uint8Array([1, 2, 3])]), { binary: false });
    await done;
    const texts = await Promise.all(got.map(async (line) => line));
    await shutDown(wss);
    return { texts, callbacks, binaryType: peer.binaryType };
  });
  assert.deepEqual(seen.texts, ['message binary Blob(8)', 'message text Buffer', 'ping ping!', 'pong pong!', 'message text Buffer']);
  assert.equal(seen.binaryType, 'blob');
});

test('allowSynchronousEvents: false hands out one message (or ping) per turn of the event loop', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl, { allowSynchronousEvents: false });
    const { client, peer } = await connected(impl, wss, url);
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const turns: number[] = [];
    const done = new Promise<void>((resolve) => {
      peer.on('ping', () => turns.push(turn));
      peer.on('message', () => {
        turns.push(turn);
        if (turns.length === 4) resolve();
      });
    });
    // All in one write, so that they arrive in one read.
    (client as unknown as { _socket: { cork(): void; uncork(): void } })._socket.cork();
    client.send('a');
    client.send('b');
    client.ping();
    client.send('c');
    (client as unknown as { _socket: { uncork(): void } })._socket.uncork();
    await done;
    ticking = false;
    await shutDown(wss);
    return { distinctTurns: new Set(turns).size };
  });
  assert.equal(seen.distinctTurns, 4);
});

test('maxFragments and maxBufferedChunks, when given: past them the connection fails with 1008', async () => {
  const seen = await sameAsWs(async (impl) => {
    const outcome = async (chunks: Buffer[]) => {
      const { ws, feed, end } = await overDuplex(impl, { maxFragments: 3, maxBufferedChunks: 2 });
      const events = trace(ws);
      for (const chunk of chunks) feed(chunk);
      end();
      ws.terminate();
      return events;
    };
    const fragments = (count: number) =>
      Buffer.concat(Array.from({ length: count }, (_, i) => rawFrame({ opcode: i === 0 ? 0x1 : 0x0, payload: 'x', fin: i === count - 1 })));
    const inPieces = (data: Buffer, pieces: number) =>
      Array.from({ length: pieces }, (_, i) =>
        data.subarray(Math.ceil((data.length * i) / pieces), Math.ceil((data.length * (i + 1)) / pieces)),
      );
    const frame = rawFrame({ opcode: 0x2, payload: 'y'.repeat(60) });
    return {
      threeFragments: await outcome([fragments(3)]),
      fourFragments: await outcome([fragments(4)]),
      twoReads: await outcome(inPieces(frame, 2)),
      threeReads: await outcome(inPieces(frame, 3)),
      threeReadsOfTwoFrames: await outcome(inPieces(Buffer.concat([rawFrame({ opcode: 0x2, payload: 'z' }), frame]), 3)),
    };
  });
  assert.deepEqual(seen.threeFragments, ['message text xxx', 'close 1006']);
  assert.deepEqual(seen.fourFragments, ['error RangeError WS_ERR_TOO_MANY_BUFFERED_PARTS: Too many message fragments', 'close 1006']);
  assert.deepEqual(seen.twoReads, [`message binary ${'y'.repeat(60)}`, 'close 1006']);
  assert.deepEqual(seen.threeReads, ['error RangeError WS_ERR_TOO_MANY_BUFFERED_PARTS: Too many buffered chunks', 'close 1006']);
});

test('generateMask fills the masking key of every frame a client sends', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    let calls = 0;
    const { client, peer } = await connected(impl, wss, url, {
      generateMask: (mask: Buffer) => {
        calls++;
        mask.fill(0);
      },
    });
    const got = new Promise<string>((resolve) => peer.once('message', (data: Buffer) => resolve(data.toString())));
    client.send('masked with zeros');
    const text = await got;
    const pinged = new Promise((resolve) => peer.once('ping', resolve));
    client.ping('p');
    await pinged;
    await shutDown(wss);
    return { text, calls };
  });
  assert.deepEqual(seen, { text: 'masked with zeros', calls: 2 });
});

test('pause() and resume(): isPaused says what the user asked; messages wait while paused', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const states: string[] = [];
    states.push(`open ${client.isPaused}`);
    client.pause();
    states.push(`paused ${client.isPaused}`);
    const got: string[] = [];
    client.on('message', (data: Buffer) => got.push(data.toString()));
    const written = new Promise((resolve) => peer.send('while paused', resolve));
    await written;
    // The message has reached the client's socket and the event loop has polled it since: not a
    // timer, but what a paused socket must not hand out has had every chance to come.
    await ioSettled(impl, wss, url);
    states.push(`received while paused: ${got.length}`);
    const arrived = new Promise((resolve) => client.once('message', resolve));
    client.resume();
    states.push(`resumed ${client.isPaused}`);
    await arrived;
    states.push(`received: ${got.join()}`);
    await shutDown(wss);
    return states;
  });
  assert.deepEqual(seen, ['open false', 'paused true', 'received while paused: 0', 'resumed false', 'received: while paused']);
});

test('terminate() on a paused socket: what had arrived is still handed out before close', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    client.pause();
    const events = trace(client);
    const written = new Promise((resolve) => peer.send('sent while paused', resolve));
    await written;
    // Nothing can be awaited on a paused socket: wait until the event loop has polled it since the bytes came.
    await ioSettled(impl, wss, url);
    client.terminate();
    const result = await events;
    await shutDown(wss);
    return result;
  });
  assert.deepEqual(seen, ['message text sent while paused', 'close 1006']);
});
