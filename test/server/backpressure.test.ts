// Slow clients: a client that stops reading while the server keeps publishing keeps the server's queue
// for it under maxBackpressure, and is closed (1008) or skipped (drop, then drain) per the policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WebSocket } from '../../src/connection/websocket.js';
import { once } from '../helpers/net.js';
import { FrameReader, rawHandshake, type RawFrame } from '../helpers/raw-ws.js';
import { SlowClientGate } from '../../src/server/backpressure.js';
import { closeAll, connectPair, startServer } from './setup.js';

const BOUND = 256 * 1024;
const PAYLOAD = 60_000; // a 4-byte header: each frame is PAYLOAD + 4 bytes
const FRAME = PAYLOAD + 4;
const MAX_PUBLISHES = 3_000; // far more than loopback's kernel buffers hold

function message(seq: number): Buffer {
  const data = Buffer.alloc(PAYLOAD, 0x61);
  data.writeUInt32BE(seq, 0);
  return data;
}

async function acceptRaw(port: number, wss: import('../../src/server/websocket-server.js').WebSocketServer) {
  const accepted = once<[WebSocket]>(wss, 'connection');
  const raw = await rawHandshake(port);
  assert.equal(raw.status, 101);
  const [socket] = await accepted;
  return { raw, socket };
}

/** Resumes reading a raw client and hands each frame to `onFrame`. */
function readFrames(raw: Awaited<ReturnType<typeof rawHandshake>>, onFrame: (frame: RawFrame) => void): void {
  const reader = new FrameReader();
  for (const frame of reader.push(raw.rest)) onFrame(frame);
  raw.socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) onFrame(frame);
  });
  raw.socket.resume();
}

test("policy 'close': a client that never reads is closed, and its queue never passes the bound", async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'close', closeTimeout: 100 });
  const { raw, socket } = await acceptRaw(port, wss);
  socket.subscribe('feed');
  const payload = message(0);
  let maxQueued = 0;
  let published = 0;
  while (socket.readyState === WebSocket.OPEN && published < MAX_PUBLISHES) {
    wss.publish('feed', payload);
    published++;
    maxQueued = Math.max(maxQueued, socket.bufferedAmount);
    await nextTurn();
  }
  assert.equal(socket.readyState, WebSocket.CLOSING, `still open after ${published} publishes`);
  assert.ok(maxQueued <= BOUND + FRAME, `queued ${maxQueued} bytes, bound ${BOUND}`);
  assert.equal(wss.stats.slowClientCloses, 1);
  // Publishing on does not queue more for it.
  const queued = socket.bufferedAmount;
  assert.equal(wss.publish('feed', payload), 0);
  assert.equal(socket.bufferedAmount, queued);
  // The client never answers the close either: the close timeout ends it.
  await once(socket, 'close');
  raw.socket.destroy();
  await wss.close({ timeout: 100 });
});

test("policy 'close': a slow client that reads again finds a 1008 close with a readable reason", async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'close' });
  const { raw, socket } = await acceptRaw(port, wss);
  socket.subscribe('feed');
  let published = 0;
  while (socket.readyState === WebSocket.OPEN && published < MAX_PUBLISHES) {
    wss.publish('feed', message(published++));
    await nextTurn();
  }
  assert.equal(socket.readyState, WebSocket.CLOSING);
  const seqs: number[] = [];
  const closeFrame = new Promise<RawFrame>((resolve) => {
    readFrames(raw, (frame) => {
      if (frame.opcode === 0x8) resolve(frame);
      else seqs.push(frame.payload.readUInt32BE(0));
    });
  });
  const frame = await closeFrame;
  assert.equal(frame.payload.readUInt16BE(0), 1008);
  assert.match(frame.payload.subarray(2).toString(), /^Too slow: over 262144 bytes were waiting to be sent to this client$/);
  // Everything queued before the close arrived, in order, without gaps.
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i),
  );
  raw.socket.destroy();
  await once(socket, 'close');
  await wss.close({ timeout: 100 });
});

test("policy 'drop': messages are skipped and counted while a client is backed up, then 'drain'", async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'drop' });
  const healthy = await connectPair(wss, port);
  healthy.socket.subscribe('feed');
  const healthySeqs: number[] = [];
  let healthyGotLast: () => void = () => {};
  const healthyDone = new Promise<void>((resolve) => (healthyGotLast = resolve));
  healthy.client.on('message', (data: Buffer) => {
    healthySeqs.push(data.readUInt32BE(0));
    if (data.readUInt32BE(0) === published) healthyGotLast();
  });
  const { raw, socket } = await acceptRaw(port, wss);
  socket.subscribe('feed');
  const drops: Array<[WebSocket, number]> = [];
  wss.on('drop', (ws: WebSocket, dropped: number) => drops.push([ws, dropped]));

  let published = 0;
  let maxQueued = 0;
  while (drops.length < 50 && published < MAX_PUBLISHES) {
    wss.publish('feed', message(published++));
    maxQueued = Math.max(maxQueued, socket.bufferedAmount);
    await nextTurn();
  }
  assert.equal(drops.length, 50, `no drops after ${published} publishes`);
  assert.ok(maxQueued <= BOUND + FRAME, `queued ${maxQueued} bytes, bound ${BOUND}`);
  assert.equal(socket.readyState, WebSocket.OPEN, 'the drop policy keeps the connection');
  assert.ok(
    drops.every(([ws], i) => ws === socket && drops[i]![1] === i + 1),
    'each drop names the socket and its running count',
  );
  assert.equal(wss.stats.droppedMessages, 50);

  // The client reads again: its queue empties, 'drain' says how much it missed, and delivery resumes.
  const drained = once<[WebSocket, number]>(wss, 'drain');
  const seqs: number[] = [];
  let last: () => void = () => {};
  const gotLast = new Promise<void>((resolve) => (last = resolve));
  readFrames(raw, (frame) => {
    const seq = frame.payload.readUInt32BE(0);
    seqs.push(seq);
    if (seq === published) last();
  });
  const [drainedSocket, missed] = await drained;
  assert.equal(drainedSocket, socket);
  assert.equal(missed, 50);
  assert.equal(wss.publish('feed', message(published)), 2);
  await gotLast;
  assert.equal(seqs.length, published + 1 - 50, 'every message not dropped arrived');
  assert.ok(
    seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
    'in publish order',
  );
  await healthyDone;
  assert.deepEqual(
    healthySeqs,
    healthySeqs.map((_, i) => i),
    'a client that keeps up gets everything, in order',
  );
  assert.ok(
    drops.every(([ws]) => ws === socket),
    'only the slow client had messages dropped',
  );
  raw.socket.destroy();
  await closeAll(wss, healthy.client);
});

test('a message larger than the bound still goes to a client whose queue is empty', async () => {
  const { wss, port } = await startServer({ maxBackpressure: 1024, backpressurePolicy: 'drop' });
  const a = await connectPair(wss, port);
  a.socket.subscribe('big');
  const got = once<[Buffer]>(a.client, 'message');
  assert.equal(wss.publish('big', Buffer.alloc(10_000, 1)), 1);
  const [data] = await got;
  assert.equal(data.length, 10_000);
  await closeAll(wss, a.client);
});

// ---- One send path: a same-turn burst is not backlog; what the kernel refuses is, whatever wrote it ----

const BURST_BOUND = 1024 * 1024;
const BURST_MESSAGE = 64 * 1024;
const BURST = 20; // 1.25 MiB in one turn: more than the bound

for (const policy of ['drop', 'close'] as const) {
  for (const deflate of [false, true]) {
    test(`policy '${policy}'${deflate ? ', shared compression' : ''}: readers that keep up get every message of a burst larger than the bound, sent in one turn`, async () => {
      const { wss, port } = await startServer({
        maxBackpressure: BURST_BOUND,
        backpressurePolicy: policy,
        ...(deflate ? { perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 } } : {}),
      });
      const pairs = [];
      for (let i = 0; i < 5; i++) pairs.push(await connectPair(wss, port, deflate ? {} : { perMessageDeflate: false }));
      const arrived = pairs.map(({ client, socket }) => {
        socket.subscribe('burst');
        return new Promise<number[]>((resolve, reject) => {
          const seqs: number[] = [];
          client.on('message', (data: Buffer) => {
            seqs.push(data.readUInt32BE(0));
            if (seqs.length === BURST) resolve(seqs);
          });
          client.on('close', (code: number) => reject(new Error(`closed with ${code} after ${seqs.length} messages`)));
        });
      });
      let drops = 0;
      wss.on('drop', () => drops++);
      for (let i = 0; i < BURST; i++) {
        // Incompressible, so that a compressed burst is as large as a plain one.
        const data = Buffer.from(Array.from({ length: BURST_MESSAGE }, (_, n) => (n * 7919 + i * 104729) % 251));
        data.writeUInt32BE(i, 0);
        assert.equal(wss.publish('burst', data), 5, `publish ${i} reached every reader`);
      }
      for (const seqs of await Promise.all(arrived))
        assert.deepEqual(
          seqs,
          Array.from({ length: BURST }, (_, i) => i),
        );
      assert.equal(drops, 0);
      assert.equal(wss.stats.slowClientCloses, 0);
      await closeAll(wss, ...pairs.map((p) => p.client));
    });
  }
}

test("socket.send() passes the same gate: policy 'close' closes a client that stops reading at the bound", async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'close', closeTimeout: 100 });
  const { raw, socket } = await acceptRaw(port, wss);
  let sent = 0;
  let maxQueued = 0;
  const errors: string[] = [];
  while (socket.readyState === WebSocket.OPEN && sent < MAX_PUBLISHES) {
    socket.send(message(sent++), (error) => {
      if (error) errors.push(error.message);
    });
    maxQueued = Math.max(maxQueued, socket.bufferedAmount);
    await nextTurn();
  }
  assert.equal(socket.readyState, WebSocket.CLOSING, `still open after ${sent} sends`);
  assert.ok(maxQueued <= BOUND + FRAME, `queued ${maxQueued} bytes, bound ${BOUND}`);
  assert.equal(wss.stats.slowClientCloses, 1);
  await nextTurn();
  assert.deepEqual(
    errors,
    ['The connection was closed: the client is too slow (maxBackpressure)'],
    'the send that did not fit is called back with an error',
  );
  raw.socket.destroy();
  await once(socket, 'close');
  await wss.close({ timeout: 100 });
});

test("socket.send() under policy 'drop': sends that do not fit are dropped, called back with an error and counted, then 'drain'", async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'drop' });
  const { raw, socket } = await acceptRaw(port, wss);
  let drops = 0;
  wss.on('drop', (ws: WebSocket) => {
    assert.equal(ws, socket);
    drops++;
  });
  let sent = 0;
  let failed = 0;
  while (drops < 10 && sent < MAX_PUBLISHES) {
    socket.send(message(sent++), (error) => {
      if (error) failed++;
    });
    await nextTurn();
  }
  assert.equal(drops, 10);
  assert.equal(failed, 10);
  assert.equal(socket.readyState, WebSocket.OPEN);
  const drained = once<[WebSocket, number]>(wss, 'drain');
  const seqs: number[] = [];
  readFrames(raw, (frame) => seqs.push(frame.payload.readUInt32BE(0)));
  const [, missed] = await drained;
  assert.equal(missed, 10);
  assert.ok(
    seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
    'what was not dropped arrives in order',
  );
  raw.socket.destroy();
  await once(socket, 'close');
  await wss.close({ timeout: 100 });
});

test('the gate decides at the first frame of a message: a fragmented message started is finished, one not started is dropped whole', async () => {
  const { wss, port } = await startServer({ maxBackpressure: BOUND, backpressurePolicy: 'drop' });
  const { raw, socket } = await acceptRaw(port, wss);
  const results: Array<string | undefined> = [];
  const record = (error?: Error) => results.push(error?.message);
  socket.send(Buffer.from('start:'), { fin: false }, record); // started while there is no backlog
  // Fill the backlog past the bound while the client does not read (the frames wait behind the fragments).
  while (SlowClientGate.backlog(socket) <= BOUND) {
    socket.send(Buffer.alloc(PAYLOAD, 0x61), { fin: false }, record);
    await nextTurn();
  }
  let endResult: string | undefined = 'not called back';
  let droppedResult: string | undefined = 'not called back';
  socket.send(Buffer.from(':end'), { fin: true }, (error) => (endResult = error?.message)); // the last fragment of a started message goes
  socket.send(Buffer.from('dropped'), (error) => (droppedResult = error?.message)); // a new message does not
  const drained = once(wss, 'drain');
  const frames: RawFrame[] = [];
  const finished = new Promise<void>((resolve) =>
    readFrames(raw, (frame) => {
      frames.push(frame);
      if (frame.fin) resolve();
    }),
  );
  await Promise.all([drained, finished]);
  assert.equal(endResult, undefined);
  assert.equal(droppedResult, 'The message was dropped: the client is too slow (maxBackpressure)');
  assert.ok(
    results.every((r) => r === undefined),
    'every fragment was sent',
  );
  const last = frames[frames.length - 1]!;
  assert.equal(last.fin, true);
  assert.equal(last.payload.toString(), ':end');
  assert.equal(frames[0]!.opcode, 0x2);
  assert.ok(
    frames.slice(1).every((f) => f.opcode === 0x0),
    'one message: the first frame, then continuations',
  );
  raw.socket.destroy();
  await once(socket, 'close');
  await wss.close({ timeout: 100 });
});
