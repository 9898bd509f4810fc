// The WebSocket connection over its socket (websocket.ts). The send path: a turn's sends are corked into one
// write, yet bufferedAmount means what it means in `ws` (bytes the operating system has not taken), a large
// burst is handed to the socket within the turn, and _onceDrained paces work that produces a lot for one peer.
// The end of the connection: a compressed message followed by the end of the connection in the same read
// is being inflated (asynchronously) when the peer's close frame, or the end of the stream, is read; nothing
// the peer sent before it closed may be lost: 'message' comes first, then 'close'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/connection/websocket.js';
import { createDeflateCompression } from '../../src/connection/deflate-codec.js';
import { resolveDeflateOptions, type DeflateParams } from '../../src/protocol/deflate.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { MemorySocket } from '../helpers/memory-socket.js';
import { once } from '../helpers/net.js';
import { rawHandshake } from '../helpers/raw-ws.js';
import { connectPair, startServer } from '../server/setup.js';

/** A `ws` server and one of its server-side sockets, with a `ws` client connected to it. */
async function wsPair(): Promise<{ server: WsServer; socket: WsClient; client: WsClient }> {
  const server = new WsServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const accepted = once<[WsClient]>(server, 'connection');
  const client = new WsClient(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
  const [[socket]] = await Promise.all([accepted, once(client, 'open')]);
  return { server, socket, client };
}

test('bufferedAmount after send() and after close() on a socket that takes everything: 0, as in ws', async () => {
  const ours = await startServer();
  const a = await connectPair(ours.wss, ours.port);
  const theirs = await wsPair();
  const observed = (socket: { send(d: string): void; close(c: number): void; bufferedAmount: number }) => {
    socket.send('hello');
    const afterSend = socket.bufferedAmount;
    socket.close(1000);
    return [afterSend, socket.bufferedAmount];
  };
  // Both 'close' events are awaited from before the closes start: either client may close first.
  const closed = Promise.all([once(a.client, 'close'), once(theirs.client, 'close')]);
  const oursSeen = observed(a.socket);
  assert.deepEqual(oursSeen, observed(theirs.socket));
  assert.deepEqual(oursSeen, [0, 0]);
  await closed;
  await ours.wss.close();
  theirs.server.close();
});

test('sending to a peer that does not read: bufferedAmount grows within the turn, so a send loop bounded by it ends', async () => {
  const { wss, port } = await startServer({ maxBackpressure: Infinity });
  const accepted = once<[WebSocket]>(wss, 'connection');
  const raw = await rawHandshake(port); // never reads
  const [socket] = await accepted;
  const LIMIT = 8 * 1024 * 1024;
  const chunk = Buffer.alloc(16 * 1024);
  let sends = 0;
  // The pattern `ws` users write to stream without buffering everything: it relies on bufferedAmount.
  while (socket.bufferedAmount < LIMIT) {
    socket.send(chunk);
    sends++;
    assert.ok(sends < 10_000, `still below the limit after ${sends} sends: bufferedAmount is ${socket.bufferedAmount}`);
  }
  // The kernel took a few MiB at most; the rest is what bufferedAmount reports.
  assert.ok(sends * chunk.length - socket.bufferedAmount < 16 * 1024 * 1024);
  raw.socket.destroy();
  await once(socket, 'close');
  await wss.close();
});

test('_onceDrained calls back once the peer has taken everything, and with an error if the connection closes first', async () => {
  const { wss, port } = await startServer({ maxBackpressure: Infinity });
  const accepted = once<[WebSocket]>(wss, 'connection');
  const raw = await rawHandshake(port);
  const [socket] = await accepted;
  // Nothing queued: at once (on the next tick).
  await new Promise<void>((resolve, reject) => socket._onceDrained((error) => (error ? reject(error) : resolve())));
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 200; i++) socket.send(chunk); // about 13 MB: more than loopback's buffers hold
  await nextTurn();
  assert.ok(socket.bufferedAmount > 0);
  let drainedAt = -1;
  let received = 0;
  const drained = new Promise<void>((resolve, reject) =>
    socket._onceDrained((error) => {
      if (error) return reject(error);
      drainedAt = socket.bufferedAmount;
      resolve();
    }),
  );
  raw.socket.on('data', (data: Buffer) => (received += data.length));
  raw.socket.resume();
  await drained;
  assert.equal(drainedAt, 0);
  // And a connection that goes before draining: an error.
  for (let i = 0; i < 200; i++) socket.send(chunk);
  raw.socket.pause();
  await nextTurn();
  const failed = new Promise<Error | undefined>((resolve) => socket._onceDrained(resolve));
  raw.socket.destroy();
  assert.ok((await failed) instanceof Error);
  assert.ok(received > 0);
  await wss.close();
});

test('a burst that one turn sends to one socket is written as the socket takes it, not held until the turn ends', async () => {
  const { wss, port } = await startServer({ maxBackpressure: Infinity });
  const accepted = once<[WebSocket]>(wss, 'connection');
  const raw = await rawHandshake(port);
  const [socket] = await accepted;
  const chunk = Buffer.alloc(60 * 1024);
  for (let i = 0; i < 20; i++) socket.send(chunk);
  // Still in the same turn: the kernel has been offered the 1.2 MB and took it (loopback holds several MB).
  assert.equal(socket.bufferedAmount, 0);
  let received = 0;
  const all = 20 * (chunk.length + 4);
  const got = new Promise<void>((resolve) =>
    raw.socket.on('data', (data: Buffer) => {
      received += data.length;
      if (received >= all) resolve();
    }),
  );
  raw.socket.resume();
  await got;
  assert.equal(received + raw.rest.length, all);
  raw.socket.destroy();
  await wss.close();
});

// ---------------------------------------------------------------- the end of the connection
const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const OPTIONS = resolveDeflateOptions({ threshold: 0 })!;
const KEY = Buffer.from([1, 2, 3, 4]);

async function compressed(data: Buffer): Promise<Buffer> {
  const client = createDeflateCompression(PARAMS, OPTIONS, { isServer: false, maxPayload: 0 });
  const payload = await new Promise<Buffer>((resolve, reject) => client.compress(data, true, (e, r) => (e ? reject(e) : resolve(r!))));
  client.cleanup();
  return Buffer.concat(encodeFrame(payload, { opcode: 0x2, fin: true, rsv1: true, maskKey: KEY }));
}

/**
 * Feeds `bytes` in one read to a server-side connection, then ends the stream; returns its events in order,
 * and the last thing it wrote as `wrote: <bytes in hex>`.
 */
async function receive(bytes: Buffer): Promise<string[]> {
  const socket = new MemorySocket();
  const ws = new WebSocket();
  const events: string[] = [];
  ws.on('message', (data: Buffer) => events.push(`message ${data.toString()}`));
  const closed = new Promise<void>((resolve) =>
    ws.on('close', (code: number) => {
      events.push(`close ${code}`);
      resolve();
    }),
  );
  ws._setSocket(socket, Buffer.alloc(0), {}, createDeflateCompression(PARAMS, OPTIONS, { isServer: true, maxPayload: 0 }));
  socket.push(bytes);
  socket.push(null);
  await closed;
  await new Promise<void>((resolve) => setImmediate(resolve));
  const last = socket.written.at(-1);
  return last === undefined ? events : [...events, `wrote ${last.toString('hex')}`];
}

test('a compressed message and a close frame in one read: the message, then close', async () => {
  const close = Buffer.concat(encodeFrame(Buffer.from([0x03, 0xe8]), { opcode: 0x8, fin: true, rsv1: false, maskKey: KEY }));
  const message = await compressed(Buffer.from('last words'));
  // The close frame is answered (88 02 03e8: close 1000), though the peer's end came in the same read.
  assert.deepEqual(await receive(Buffer.concat([message, close])), ['message last words', 'close 1000', 'wrote 880203e8']);
  const two = Buffer.concat([message, await compressed(Buffer.from('and more')), close]);
  assert.deepEqual(await receive(two), ['message last words', 'message and more', 'close 1000', 'wrote 880203e8']);
});

test('a compressed message and then the end of the stream, without a close frame: the message, then 1006', async () => {
  assert.deepEqual(await receive(await compressed(Buffer.from('cut off'))), ['message cut off', 'close 1006']);
});

/** A server-side connection over a MemorySocket, open. */
function openOnMemory(): { ws: WebSocket; socket: MemorySocket } {
  const socket = new MemorySocket();
  const ws = new WebSocket();
  ws._setSocket(socket, Buffer.alloc(0), {}, null);
  return { ws, socket };
}

/** Resolves once the current turn (and the one its end schedules) has ended. */
async function turnEnds(): Promise<void> {
  await nextTurn();
  await nextTurn();
}

test('at low load a lone small send is written at once; a second send in the turn, or any send after a busy turn, waits for the turn to end', async () => {
  const a = openOnMemory();
  const b = openOnMemory();
  // A turn that wrote to one connection, once: the process is quiet.
  a.ws.send('warm');
  await turnEnds();
  const before = a.socket.written.length;
  a.ws.send('x');
  assert.equal(a.socket.written.length, before + 1, 'the lone send is written at once');
  a.ws.send('y');
  assert.equal(a.socket.written.length, before + 1, 'the second send of the turn is corked');
  await turnEnds();
  assert.equal(
    Buffer.concat(a.socket.written.slice(before + 1))
      .toString()
      .slice(-1),
    'y',
  );
  // This connection wrote twice in its last turn: its next turn corks from the first send.
  const afterTwo = a.socket.written.length;
  a.ws.send('p');
  assert.equal(a.socket.written.length, afterTwo, 'corked after a turn of several writes');
  await turnEnds();
  assert.equal(a.socket.written.length, afterTwo + 1);
  // Two connections written in one turn: under load, the next turn's first sends are corked too.
  a.ws.send('q');
  b.ws.send('q');
  await turnEnds();
  const afterLoad = a.socket.written.length;
  a.ws.send('r');
  assert.equal(a.socket.written.length, afterLoad, 'corked after a turn that wrote to two connections');
  await turnEnds();
  assert.equal(a.socket.written.length, afterLoad + 1);
  a.ws.terminate();
  b.ws.terminate();
});

test('a publish to a connection that got one write in its last turn is written at once, even under load; after several, it is corked', async () => {
  const a = openOnMemory();
  const b = openOnMemory();
  const frames = encodeFrame(Buffer.from('news'), { opcode: 0x1, fin: true, rsv1: false, maskKey: null });
  // A busy turn: both connections written, once each.
  a.ws.send('one');
  b.ws.send('one');
  await turnEnds();
  const beforeA = a.socket.written.length;
  const beforeB = b.socket.written.length;
  // One message to many (a publish): nothing to coalesce it with, so it leaves at once for each.
  assert.equal(a.ws._sendPrepared(frames, 6), true);
  assert.equal(b.ws._sendPrepared(frames, 6), true);
  assert.equal(a.socket.written.length, beforeA + 1, 'written at once');
  assert.equal(b.socket.written.length, beforeB + 1, 'written at once');
  // A second write in the same turn is corked until the turn ends.
  a.ws.send('two');
  assert.equal(a.socket.written.length, beforeA + 1, 'the second write of the turn is corked');
  await turnEnds();
  assert.equal(a.socket.written.length, beforeA + 2);
  // The last turn wrote to `a` twice: a publish now waits for the turn's end, with what else it gets.
  const afterTwo = a.socket.written.length;
  a.ws._sendPrepared(frames, 6);
  a.ws.send('three');
  assert.equal(a.socket.written.length, afterTwo, 'corked after a turn of several writes');
  await turnEnds();
  assert.equal(a.socket.written.length, afterTwo + 2, 'both at the end of the turn');
  assert.equal(Buffer.concat(a.socket.written.slice(afterTwo)).subarray(-5).toString(), 'three');
  a.ws.terminate();
  b.ws.terminate();
});
