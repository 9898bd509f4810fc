// The connection's side of the protocol machine (link.ts), on a WebSocket over an in-memory socket: the close
// frame leaves at once, the close timer cuts off a peer that never answers and is stopped by one that does,
// and what is sent after the close counts in bufferedAmount. A connection holds its Link only while
// something is under way, and Links given back serve other connections (each with its own options) without
// anything of one reaching another; the pool of Links given back stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { WebSocket } from '../../src/connection/websocket.js';
import type { ConnectionOptions } from '../../src/connection/options.js';
import { createDeflateCompression } from '../../src/connection/deflate-codec.js';
import { spareLinks } from '../../src/connection/link.js';
import { resolveDeflateOptions } from '../../src/protocol/deflate.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { MemorySocket } from '../helpers/memory-socket.js';

const KEY = Buffer.from([1, 2, 3, 4]);

/** A server-side connection over a MemorySocket, and its 'close' as a promise of [code, reason, wasClean]. */
function open(options: ConnectionOptions = {}): { ws: WebSocket; socket: MemorySocket; closed: Promise<[number, string, boolean]> } {
  const socket = new MemorySocket();
  const ws = new WebSocket();
  let wasClean = false;
  ws.addEventListener('close', (event) => {
    wasClean = (event as { wasClean: boolean }).wasClean;
  });
  const closed = new Promise<[number, string, boolean]>((resolve) =>
    ws.on('close', (code: number, reason: Buffer) => queueMicrotask(() => resolve([code, reason.toString(), wasClean]))),
  );
  ws._setSocket(socket, Buffer.alloc(0), options);
  return { ws, socket, closed };
}

function peerClose(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return Buffer.concat(encodeFrame(payload, { opcode: 0x8, fin: true, rsv1: false, maskKey: KEY }));
}

test('close() writes the close frame at once, and a peer that never answers is cut off after closeTimeout: 1006, not clean', async () => {
  const { ws, socket, closed } = open({ closeTimeout: 30 });
  // The close timer does not keep a process alive (it is unref'd): this handle does, while the test waits.
  const alive = setInterval(() => {}, 60_000);
  ws.close(1000, 'bye');
  // Not held until the end of the turn: the close frame is the last thing sent, it leaves now.
  assert.equal(
    Buffer.concat(socket.written).toString('hex'),
    `8805${Buffer.from([0x03, 0xe8]).toString('hex')}${Buffer.from('bye').toString('hex')}`,
  );
  assert.equal(ws.readyState, WebSocket.CLOSING);
  assert.deepEqual(await closed, [1006, '', false]);
  clearInterval(alive);
  assert.equal(socket.destroyed, true);
});

test('the peer`s answer ends the closing handshake before the timer: its code, clean', async () => {
  const { ws, socket, closed } = open({ closeTimeout: 60_000 });
  ws.close(1001);
  socket.push(peerClose(1001));
  socket.push(null);
  assert.deepEqual(await closed, [1001, '', true]);
});

test('a close started by the peer is answered with its code; the connection closes cleanly when the peer ends', async () => {
  const { ws, socket, closed } = open();
  socket.push(peerClose(4001));
  socket.push(null);
  assert.deepEqual(await closed, [4001, '', true]);
  assert.equal(Buffer.concat(socket.written).toString('hex'), '8802' + '0fa1');
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('send() after close() counts in bufferedAmount and calls back with an error, as in ws', async () => {
  const { ws } = open();
  ws.close();
  const error = await new Promise<Error | undefined>((resolve) => ws.send('four', resolve));
  assert.match(String(error?.message), /WebSocket is not open: readyState 2 \(CLOSING\)/);
  assert.equal(ws.bufferedAmount, 4);
  ws.terminate();
});

/** A masked frame as a client sends it (`fin` false for a fragment, `rsv1` for a compressed message). */
function frame(opcode: number, payload: string | Buffer, fin = true, rsv1 = false): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat(encodeFrame(data, { opcode, fin, rsv1, maskKey: KEY }));
}

/**
 * Resolves with the next `count` messages `ws` hands out, once it has handed them out; the read that brought
 * the last one is over by then (the promise settles after it).
 */
function messages(ws: WebSocket, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    const out: string[] = [];
    const listener = (data: Buffer): void => {
      out.push(data.toString());
      if (out.length < count) return;
      ws.off('message', listener);
      resolve(out);
    };
    ws.on('message', listener);
  });
}

test('a connection holds its Link only while something is under way: a frame partly read, a fragmented message, a close', async () => {
  const { ws, socket } = open();
  assert.equal(ws._link, null, 'nothing received yet');
  const one = messages(ws, 1);
  socket.push(frame(0x1, 'one'));
  assert.deepEqual(await one, ['one']);
  assert.equal(ws._link, null, 'at rest after a whole message');
  // The socket flows now: what is pushed is read at once.
  const two = frame(0x1, 'two');
  socket.push(two.subarray(0, 4));
  assert.notEqual(ws._link, null, 'a frame partly read');
  const got = messages(ws, 2);
  socket.push(two.subarray(4));
  socket.push(frame(0x1, 'three,', false));
  assert.notEqual(ws._link, null, 'a fragmented message');
  socket.push(frame(0x0, ' four'));
  assert.deepEqual(await got, ['two', 'three, four']);
  assert.equal(ws._link, null);
  socket.push(frame(0x9, 'ping'));
  assert.equal(ws._link, null, 'a ping (answered) leaves nothing under way');
  ws.close(1000);
  assert.notEqual(ws._link, null, 'closing: the close timer and the close code are kept');
  ws.terminate();
});

test('Links given back serve the next connections, each with its own options and role; nothing of one reaches another', async () => {
  // A server connection with a 10-byte limit, one without, and a client (the peer does not mask).
  const small = open({ maxPayload: 10 });
  const large = open();
  const clientSocket = new MemorySocket();
  const client = new WebSocket();
  client._isServer = false;
  client._setSocket(clientSocket, Buffer.alloc(0), {});
  const clientGot = messages(client, 1);
  clientSocket.push(
    Buffer.concat(encodeFrame(Buffer.from('unmasked, from a server'), { opcode: 0x1, fin: true, rsv1: false, maskKey: null })),
  );
  assert.deepEqual(await clientGot, ['unmasked, from a server']);
  const tiny = messages(small.ws, 1);
  small.socket.push(frame(0x1, 'tiny'));
  assert.deepEqual(await tiny, ['tiny']);
  // The Link the small one gave back has no limit for this one.
  const big = messages(large.ws, 1);
  large.socket.push(frame(0x1, 'x'.repeat(100)));
  assert.deepEqual(await big, ['x'.repeat(100)]);
  // And the small one still has its own.
  const failed = new Promise<Error>((resolve) => small.ws.on('error', resolve));
  small.socket.push(frame(0x1, 'more than ten bytes'));
  assert.match((await failed).message, /Max payload size exceeded/);
  assert.equal(Buffer.concat(small.socket.written).subarray(-4).toString('hex'), '880203f1', 'failed with 1009');
  assert.equal(large.ws.readyState, WebSocket.OPEN);
  for (const ws of [small.ws, large.ws, client]) ws.terminate();
});

test('many connections read frames split anywhere, interleaved: each gets exactly its own messages', async () => {
  // A small generator with a seed, so that a failure can be replayed.
  let seed = 20261206;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const connections = Array.from({ length: 20 }, (_, i) => ({ ...open(), i }));
  const expected = connections.map(({ i }) => Array.from({ length: 4 }, (_, k) => `${i}:${k}:${'.'.repeat(random(300))}`));
  // Each connection's bytes (some messages in two fragments) cut into pieces of 1 to 40 bytes.
  const pieces = connections.map(({ i }) => {
    const bytes = Buffer.concat(
      expected[i]!.map((text, k) =>
        k % 2 === 0 ? frame(0x1, text) : Buffer.concat([frame(0x1, text.slice(0, 3), false), frame(0x0, text.slice(3))]),
      ),
    );
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const size = 1 + random(40);
      out.push(bytes.subarray(at, at + size));
      at += size;
    }
    return out;
  });
  const received = connections.map(({ ws }) => messages(ws, 4));
  // Let every socket start flowing, then push one piece at a time, to a connection picked at random.
  await new Promise((resolve) => setImmediate(resolve));
  for (let left = pieces.reduce((n, p) => n + p.length, 0); left > 0; left--) {
    let c = random(connections.length);
    while (pieces[c]!.length === 0) c = (c + 1) % connections.length;
    connections[c]!.socket.push(pieces[c]!.shift());
  }
  assert.deepEqual(await Promise.all(received), expected);
  for (const { ws } of connections) {
    assert.equal(ws._link, null);
    ws.terminate();
  }
});

test('with synchronous events off, the Link is given back once the deferred messages are handed out', async () => {
  const { ws, socket } = open({ allowSynchronousEvents: false });
  const got = messages(ws, 3);
  socket.push(Buffer.concat([frame(0x1, 'a'), frame(0x1, 'b'), frame(0x1, 'c')]));
  assert.deepEqual(await got, ['a', 'b', 'c']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ws._link, null);
  ws.terminate();
});

test('with permessage-deflate, the Link is given back once the inflation is done', async () => {
  const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  const compression = createDeflateCompression(params, resolveDeflateOptions(true)!, { isServer: true, maxPayload: 0 });
  const socket = new MemorySocket();
  const ws = new WebSocket();
  ws._setSocket(socket, Buffer.alloc(0), {}, compression);
  const deflated = deflateRawSync(Buffer.from('squeezed '.repeat(20)), { finishFlush: constants.Z_SYNC_FLUSH });
  const got = messages(ws, 1);
  socket.push(frame(0x1, deflated.subarray(0, deflated.length - 4), true, true));
  assert.deepEqual(await got, ['squeezed '.repeat(20)]);
  assert.equal(ws._link, null);
  ws.terminate();
});

test('the pool of Links given back stays bounded: 200 connections mid-frame at once, then all at rest, leave at most 64', async () => {
  const connections = Array.from({ length: 200 }, () => open());
  await new Promise((resolve) => setImmediate(resolve));
  // Each its own bytes: the machine unmasks what it is given in place.
  const frames = connections.map(() => frame(0x1, 'held across two reads'));
  connections.forEach(({ socket }, i) => socket.push(frames[i]!.subarray(0, 5)));
  for (const { ws } of connections) assert.notEqual(ws._link, null, 'each holds its own Link mid-frame');
  const received = connections.map(({ ws }) => messages(ws, 1));
  connections.forEach(({ socket }, i) => socket.push(frames[i]!.subarray(5)));
  assert.deepEqual(
    await Promise.all(received),
    connections.map(() => ['held across two reads']),
  );
  for (const { ws } of connections) assert.equal(ws._link, null);
  assert.ok(spareLinks() <= 64, `${spareLinks()} Links kept`);
  assert.ok(spareLinks() > 0);
  for (const { ws } of connections) ws.terminate();
});
