// Hostile peers against a real WebSocketServer on 127.0.0.1: floods of pings and of tiny fragments, a
// peer that streams on after our close and never answers it, oversized and overlong headers, slow-loris
// handshakes by the hundred, thousands of connections dropped without a close, decompression bombs from
// many peers at once, and invalid UTF-8 at every position of a fragmented message. Each checks the close
// code or status, that memory stays bounded, and that the server goes on serving everyone else.
// (test/server/limits.test.ts, malformed.test.ts, backpressure.test.ts and deflate.test.ts have the
// single-peer cases; these are the floods, the crowds and the positions.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from '../../src/connection/websocket.js';
import { Opcode } from '../../src/protocol/frame.js';
import { zlibActivity } from '../../src/connection/deflate-codec.js';
import type { WebSocketServer } from '../../src/server/websocket-server.js';
import { once } from '../helpers/net.js';
import { rawHandshake as deflateHandshake, zeroBomb } from '../helpers/deflate.js';
import { FrameReader, clientFrame, rawHandshake, rawSocket, readHttpResponse, upgradeRequest, type RawFrame } from '../helpers/raw-ws.js';
import { closeAll, connectPair, startServer } from './setup.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const noop = () => {};

/** Resolves when `socket` has closed, whether or not an error (a reset) came first. */
function closedSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => resolve())));
}

async function acceptRaw(wss: WebSocketServer, port: number) {
  const accepted = once<[WebSocket]>(wss, 'connection');
  const raw = await rawHandshake(port);
  assert.equal(raw.status, 101);
  const [socket] = await accepted;
  return { raw, socket };
}

/** Resolves once `socket` has emitted `event` `count` times. */
function events(socket: WebSocket, event: string, count: number, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${count} '${event}' events`)), timeoutMs);
    const on = () => {
      if (++seen < count) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve();
    };
    socket.on(event, on);
  });
}

/**
 * Writes `total` copies of `frame` in large writes, waiting for 'drain' so that the client itself stays
 * bounded, and yielding now and then so that the server (in this process) reads. Stops early when the
 * server closes the connection; resolves with how many frames were written.
 */
async function flood(socket: Socket, frame: Buffer, total: number): Promise<number> {
  const perWrite = Math.max(1, Math.floor((256 * 1024) / frame.length));
  const batch = Buffer.concat(Array<Buffer>(perWrite).fill(frame));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let sent = 0;
  while (sent < total && !socket.destroyed && socket.writable) {
    const n = Math.min(perWrite, total - sent);
    const ok = socket.write(n === perWrite ? batch : batch.subarray(0, n * frame.length));
    sent += n;
    if (!ok) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return sent;
}

/** Reads frames from a raw client's socket from now on. */
function readFrames(socket: Socket, rest: Buffer, onFrame: (frame: RawFrame) => void): void {
  const reader = new FrameReader();
  for (const frame of reader.push(rest)) onFrame(frame);
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) onFrame(frame);
  });
  socket.resume();
}

test('a flood of pings from a peer that does not read leaves at most a bounded backlog of pongs; it gets the last one when it reads', async () => {
  const { wss, port } = await startServer();
  const { raw, socket } = await acceptRaw(wss, port);
  raw.socket.on('error', noop);
  try {
    const PINGS = 100_000; // 13 MB of pings, far more than the kernel's buffers hold
    let maxQueued = 0;
    socket.on('ping', () => (maxQueued = Math.max(maxQueued, socket.bufferedAmount)));
    const last = Buffer.from(`last ping ${'.'.repeat(100)}`);
    const all = events(socket, 'ping', PINGS + 1, 60_000);
    await flood(raw.socket, clientFrame(0x9, Buffer.alloc(125, 0x70)), PINGS);
    raw.socket.write(clientFrame(0x9, last));
    await all;
    assert.ok(maxQueued <= 256 * 1024, `the server queued ${maxQueued} bytes of pongs for a peer that does not read`);
    // The peer reads again: the pong for its last ping comes.
    const gotLast = new Promise<void>((resolve) =>
      readFrames(raw.socket, raw.rest, (frame) => {
        if (frame.opcode === 0xa && frame.payload.equals(last)) resolve();
      }),
    );
    await gotLast;
    assert.equal(socket.readyState, WebSocket.OPEN);
  } finally {
    raw.socket.destroy();
    await wss.close({ timeout: 100 });
  }
});

test('a peer that floods pings and reads gets pongs, and the connection stays open', async () => {
  const { wss, port } = await startServer();
  const { raw, socket } = await acceptRaw(wss, port);
  try {
    let pongs = 0;
    const last = Buffer.from('the last one');
    const gotLast = new Promise<void>((resolve) =>
      readFrames(raw.socket, raw.rest, (frame) => {
        if (frame.opcode !== 0xa) return;
        pongs++;
        if (frame.payload.equals(last)) resolve();
      }),
    );
    await flood(raw.socket, clientFrame(0x9, 'ping'), 20_000);
    raw.socket.write(clientFrame(0x9, last));
    await gotLast;
    assert.ok(pongs > 0);
    assert.equal(socket.readyState, WebSocket.OPEN);
  } finally {
    raw.socket.destroy();
    await wss.close({ timeout: 100 });
  }
});

test('tiny fragments: a message of exactly maxPayload in 1-byte fragments arrives; one byte more closes with 1009; 200,000 empty fragments cost nothing', async () => {
  const MAX = 64 * 1024;
  const { wss, port } = await startServer({ maxPayload: MAX });
  try {
    // Exactly MAX bytes, one per fragment.
    const a = await acceptRaw(wss, port);
    const arrived = once<[Buffer]>(a.socket, 'message', 30_000);
    a.raw.socket.write(clientFrame(0x2, 'a', false));
    await flood(a.raw.socket, clientFrame(0x0, 'b', false), MAX - 2);
    a.raw.socket.write(clientFrame(0x0, 'c'));
    const [data] = await arrived;
    assert.equal(data.length, MAX);
    assert.equal(data.at(-1), 0x63);
    // Empty fragments by the hundred thousand: the message stays two bytes long.
    const small = once<[Buffer]>(a.socket, 'message', 30_000);
    a.raw.socket.write(clientFrame(0x1, 'x', false));
    await flood(a.raw.socket, clientFrame(0x0, '', false), 200_000);
    a.raw.socket.write(clientFrame(0x0, 'y'));
    assert.equal(String((await small)[0]), 'xy');
    a.raw.socket.destroy();

    // One byte over: 1009, reported to the server's socket too.
    const b = await acceptRaw(wss, port);
    b.raw.socket.on('error', noop);
    const codes: number[] = [];
    readFrames(b.raw.socket, b.raw.rest, (frame) => {
      if (frame.opcode === 0x8) codes.push(frame.payload.readUInt16BE(0));
    });
    const failed = once<[{ closeCode: number }]>(b.socket, 'error', 30_000);
    const gone = closedSocket(b.raw.socket);
    b.raw.socket.write(clientFrame(0x2, 'a', false));
    const written = await flood(b.raw.socket, clientFrame(0x0, 'b', false), MAX + 1000);
    assert.equal((await failed)[0].closeCode, 1009);
    await gone;
    assert.deepEqual(codes, [1009]);
    assert.ok(written >= MAX, `failed after ${written} fragments`);
  } finally {
    await wss.close({ timeout: 100 });
  }
});

test('a peer that keeps streaming after our close and never answers it is cut off after closeTimeout', async () => {
  const { wss, port } = await startServer({ closeTimeout: 300 });
  const { raw, socket } = await acceptRaw(wss, port);
  raw.socket.on('error', noop);
  try {
    const frames: number[] = [];
    readFrames(raw.socket, raw.rest, (frame) => frames.push(frame.opcode));
    let received = 0;
    socket.on('message', () => received++);
    const closed = once<[number]>(socket, 'close', 10_000);
    const rawClosed = closedSocket(raw.socket);
    const streaming = flood(raw.socket, clientFrame(0x1, 'still talking'), 10_000_000);
    await events(socket, 'message', 1000);
    socket.close(1000, 'bye');
    const [code] = await closed;
    assert.equal(code, 1006, 'no closing handshake: reported as abnormal');
    await rawClosed;
    const sent = await streaming;
    assert.ok(sent < 10_000_000, 'the stream was cut off');
    assert.deepEqual(frames, [0x8], 'the close frame, then nothing more');
    assert.ok(received >= 1000);
  } finally {
    raw.socket.destroy();
    await wss.close({ timeout: 100 });
  }
});

test('oversized request heads get 431 under the default limits; large but legal ones are parsed quickly and correctly', async () => {
  const { wss, port } = await startServer({ perMessageDeflate: true });
  const send = async (text: string) => {
    const socket = await rawSocket(port);
    socket.on('error', noop);
    const response = readHttpResponse(socket);
    socket.write(text);
    return response;
  };
  try {
    // Node's default maxHeaderSize is 16 KiB: many headers, one huge header, or a huge URL.
    const many: Record<string, string> = {};
    for (let i = 0; i < 400; i++) many[`X-Header-${i}`] = 'v'.repeat(40);
    assert.equal((await send(upgradeRequest('/', many))).status, 431);
    assert.equal((await send(upgradeRequest('/', { 'X-Big': 'x'.repeat(20_000) }))).status, 431);
    assert.equal((await send(upgradeRequest('/' + 'p'.repeat(20_000)))).status, 431);

    // Just under the limit: 2,500 subprotocols (the first is chosen), or one repeated at the far end (400).
    const protocols = Array.from({ length: 2500 }, (_, i) => `p${i.toString(36)}`);
    const chosen = await rawHandshake(port, { headers: { 'Sec-WebSocket-Protocol': protocols.join(', ') } });
    assert.equal(chosen.status, 101);
    assert.match(chosen.head, /\r\nSec-WebSocket-Protocol: p0(\r\n|$)/);
    chosen.socket.destroy();
    const repeated = await send(upgradeRequest('/', { 'Sec-WebSocket-Protocol': [...protocols, 'p0'].join(', ') }));
    assert.equal(repeated.status, 400);

    // 300 offers the server must decline, then one it can take.
    const offers = [
      ...Array<string>(300).fill('permessage-deflate; server_max_window_bits=7'),
      'permessage-deflate; client_max_window_bits',
    ];
    const negotiated = await rawHandshake(port, { headers: { 'Sec-WebSocket-Extensions': offers.join(', ') } });
    assert.equal(negotiated.status, 101);
    assert.match(negotiated.head, /\r\nSec-WebSocket-Extensions: permessage-deflate(\r\n|;|$)/);
    negotiated.socket.destroy();

    // Everyone else is still served.
    const { client } = await connectPair(wss, port);
    client.terminate();
  } finally {
    await wss.close({ timeout: 100 });
  }
});

test('a hundred slow-loris handshakes, trickling a byte at a time, are all dropped at handshakeTimeout while a real client gets in', async () => {
  const { wss, port } = await startServer({ handshakeTimeout: 300 });
  const LORISES = 100;
  const request = Buffer.from(upgradeRequest());
  const lorises: Array<{ socket: Socket; sent: number; answered: number }> = [];
  for (let i = 0; i < LORISES; i++) {
    const socket = await rawSocket(port);
    socket.on('error', noop);
    const loris = { socket, sent: 0, answered: 0 };
    socket.on('data', (chunk: Buffer) => (loris.answered += chunk.length));
    lorises.push(loris);
  }
  const allClosed = Promise.all(lorises.map((l) => closedSocket(l.socket)));
  // One timer drives them all: each sends its next byte (never the whole request) every 10 ms.
  const trickle = setInterval(() => {
    for (const loris of lorises) {
      if (loris.socket.destroyed || loris.sent >= request.length - 1) continue;
      loris.socket.write(request.subarray(loris.sent, loris.sent + 1));
      loris.sent++;
    }
  }, 10);
  try {
    const { client, socket } = await connectPair(wss, port);
    const echoed = once<[Buffer]>(client, 'message');
    socket.send('served');
    assert.equal(String((await echoed)[0]), 'served');
    await allClosed;
    assert.equal(wss.stats.handshakeTimeouts, LORISES);
    assert.ok(
      lorises.every((l) => l.answered === 0),
      'dropped without an answer',
    );
    assert.ok(
      lorises.some((l) => l.sent > 5),
      'they were trickling when dropped',
    );
    assert.equal(socket.readyState, WebSocket.OPEN);
    await closeAll(wss, client);
  } finally {
    clearInterval(trickle);
    await wss.close({ timeout: 100 });
  }
});

async function openAndDrop(port: number, count: number): Promise<void> {
  const BATCH = 100;
  for (let start = 0; start < count; start += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, count - start) }, async (_, i) => {
        const n = start + i;
        if (n % 10 === 9) {
          // Dropped in the middle of its request.
          const socket = await rawSocket(port);
          socket.on('error', noop);
          socket.write('GET / HTTP/1.1\r\nUpgrade: websocket\r\n');
          return socket;
        }
        const raw = await rawHandshake(port);
        raw.socket.on('error', noop);
        return raw.socket;
      }),
    );
    // Gone without a close frame: a reset, a plain close, or a half-close.
    batch.forEach((socket, i) => {
      if (i % 3 === 0) socket.resetAndDestroy();
      else if (i % 3 === 1) socket.destroy();
      else socket.end();
    });
  }
}

test('thousands of connections opened and dropped without a close leave nothing behind', async () => {
  const { wss, port } = await startServer({ handshakeTimeout: 2000 });
  const ROUND = 1500;
  let opened = 0;
  let closed = 0;
  let allGone: () => void = noop;
  wss.on('connection', (ws: WebSocket) => {
    opened++;
    ws.subscribe('room');
    ws.subscribe(`own-${opened}`);
    ws.on('close', () => {
      if (++closed === opened && opened % (ROUND - ROUND / 10) === 0) allGone();
    });
  });
  const round = async () => {
    const gone = new Promise<void>((resolve) => (allGone = resolve));
    await openAndDrop(port, ROUND);
    await gone;
    assert.equal(wss.clients.size, 0);
    assert.equal(wss.subscriberCount('room'), 0);
    assert.deepEqual(wss.topics, []);
  };
  try {
    await round(); // warms up whatever is made once
    gc();
    const before = process.memoryUsage().heapUsed;
    await round();
    await round();
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    assert.equal(opened, 3 * (ROUND - ROUND / 10));
    // 2,700 more connections came and went; leaking even 1 KiB each would show.
    assert.ok(growth < 2 * 1024 * 1024, `the heap grew by ${growth} bytes`);
    const { client } = await connectPair(wss, port);
    client.terminate();
  } finally {
    await wss.close({ timeout: 100 });
  }
});

test('decompression bombs from more peers than the zlib concurrency limit: each closed 1009, memory bounded, others served', async () => {
  const MAX = 1024 * 1024;
  const { wss, port } = await startServer({ perMessageDeflate: true, maxPayload: MAX });
  const PEERS = 16; // the default concurrencyLimit is 10
  const bomb = await zeroBomb(256); // 256 MiB of zeros in about 256 KiB
  try {
    gc();
    const rssBefore = process.memoryUsage().rss;
    let rssMax = rssBefore;
    const serverErrors: number[] = [];
    wss.on('connection', (ws: WebSocket) =>
      ws.on('error', (error: { closeCode: number }) => {
        serverErrors.push(error.closeCode);
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }),
    );
    const peers = [];
    for (let i = 0; i < PEERS; i++) peers.push(await deflateHandshake(port, 'permessage-deflate'));
    peers.forEach((peer, i) => {
      if (i % 2 === 0) {
        peer.send(Opcode.Binary, bomb, { rsv1: true });
      } else {
        // The same bomb in three fragments.
        const third = Math.floor(bomb.length / 3);
        peer.send(Opcode.Text, bomb.subarray(0, third), { rsv1: true, fin: false });
        peer.send(Opcode.Continuation, bomb.subarray(third, 2 * third), { fin: false });
        peer.send(Opcode.Continuation, bomb.subarray(2 * third));
      }
    });
    const codes = await Promise.all(peers.map((peer) => peer.closeCode(30_000)));
    assert.deepEqual(codes, Array<number>(PEERS).fill(1009));
    assert.deepEqual(serverErrors, Array<number>(PEERS).fill(1009));
    assert.deepEqual(zlibActivity(), { running: 0, waiting: 0 });
    // Inflating them all would take 4 GiB; each stops at 1 MiB.
    const growth = rssMax - rssBefore;
    assert.ok(growth < 256 * 1024 * 1024, `RSS grew by ${growth} bytes`);
    const { client } = await connectPair(wss, port, { perMessageDeflate: true });
    const echoed = once<[Buffer]>(client, 'message');
    [...wss.clients].at(-1)!.send('x'.repeat(5000));
    assert.equal(String((await echoed)[0]).length, 5000);
    client.terminate();
  } finally {
    await wss.close({ timeout: 100 });
  }
});

test('invalid UTF-8 at every position of a fragmented text message closes with 1007, each time', async () => {
  const { wss, port } = await startServer();
  const text = Buffer.from('aé€𝄞 z');
  const sequences = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]];
  const cases: Buffer[] = [];
  for (const seq of sequences) {
    for (let at = 0; at <= text.length; at++) cases.push(Buffer.concat([text.subarray(0, at), Buffer.from(seq), text.subarray(at)]));
  }
  // Cut short inside each multi-byte character.
  for (let at = 1; at < text.length; at++) if ((text[at]! & 0xc0) === 0x80) cases.push(text.subarray(0, at));
  const codes: number[] = [];
  try {
    for (let i = 0; i < cases.length; i += 20) {
      const batch = await Promise.all(
        cases.slice(i, i + 20).map(async (payload, j) => {
          // Twenty at once: only the client end is used, so no wait for each 'connection' (twenty
          // listeners for the next one would all resolve with the first socket, and trip the
          // EventEmitter's leak warning).
          const raw = await rawHandshake(port);
          assert.equal(raw.status, 101);
          raw.socket.on('error', noop);
          raw.socket.setNoDelay(true);
          const code = new Promise<number>((resolve) =>
            readFrames(raw.socket, raw.rest, (frame) => {
              if (frame.opcode === 0x8) resolve(frame.payload.readUInt16BE(0));
            }),
          );
          // Fragments of 1 to 3 bytes, each in its own write.
          const size = 1 + ((i + j) % 3);
          for (let at = 0; at < payload.length; at += size) {
            const last = at + size >= payload.length;
            raw.socket.write(clientFrame(at === 0 ? 0x1 : 0x0, payload.subarray(at, at + size), last));
          }
          const result = await code;
          raw.socket.destroy();
          return result;
        }),
      );
      codes.push(...batch);
    }
    assert.equal(codes.length, cases.length);
    assert.deepEqual(codes, Array<number>(cases.length).fill(1007));
  } finally {
    await wss.close({ timeout: 100 });
  }
});

test('twenty subscribers that stop reading are closed with 1008 at the bound while two readers get every message in order', async () => {
  const BOUND = 128 * 1024;
  const PAYLOAD = 8 * 1024;
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'close', closeTimeout: 200 });
  const stalled: Array<{ raw: Awaited<ReturnType<typeof rawHandshake>>; socket: WebSocket }> = [];
  try {
    for (let i = 0; i < 20; i++) {
      const pair = await acceptRaw(wss, port);
      pair.raw.socket.on('error', noop);
      pair.socket.subscribe('feed');
      stalled.push(pair);
    }
    const readers = [await connectPair(wss, port), await connectPair(wss, port)];
    const seen = readers.map(({ client, socket }) => {
      socket.subscribe('feed');
      const seqs: number[] = [];
      client.on('message', (data: Buffer) => seqs.push(data.readUInt32BE(0)));
      return seqs;
    });
    const closedStalled = Promise.all(stalled.map(({ socket }) => once<[number]>(socket, 'close', 30_000)));
    let maxQueued = 0;
    let published = 0;
    // Publish until every stalled subscriber has been closed (the kernel's buffers hold a few MB first).
    while (stalled.some(({ socket }) => socket.readyState === WebSocket.OPEN) && published < 20_000) {
      const data = Buffer.alloc(PAYLOAD, 0x71);
      data.writeUInt32BE(published++, 0);
      wss.publish('feed', data);
      for (const { socket } of stalled) maxQueued = Math.max(maxQueued, socket.bufferedAmount);
      // The readers keep up: publishing waits (turn by turn) while their queues are half full.
      do await new Promise<void>((resolve) => setImmediate(resolve));
      while (readers.some(({ socket }) => socket.bufferedAmount > BOUND / 2));
    }
    assert.ok(
      stalled.every(({ socket }) => socket.readyState !== WebSocket.OPEN),
      `still open after ${published} publishes`,
    );
    assert.ok(maxQueued <= BOUND + PAYLOAD + 16, `a stalled subscriber had ${maxQueued} bytes queued`);
    assert.equal(wss.stats.slowClientCloses, 20);
    // The readers get everything, in order.
    const done = readers.map(({ client }, i) =>
      seen[i]!.length === published
        ? Promise.resolve()
        : new Promise<void>((resolve) => client.on('message', () => seen[i]!.length === published && resolve())),
    );
    await Promise.all(done);
    for (const seqs of seen)
      assert.deepEqual(
        seqs,
        Array.from({ length: published }, (_, n) => n),
      );
    await closedStalled;
    await closeAll(wss, ...readers.map((r) => r.client));
  } finally {
    for (const { raw } of stalled) raw.socket.destroy();
    await wss.close({ timeout: 100 });
  }
});
