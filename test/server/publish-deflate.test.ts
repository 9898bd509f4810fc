// permessage-deflate for publish and broadcast: subscribers whose server side keeps no context share one
// compression per publish (per window size) and get the same RSV1 frame; everyone else gets the plain
// frame; order holds against later publishes and direct sends while zlib works; the queued bytes count
// the compressed size; a subscriber that goes mid-compression harms no one; Chromium reads the frames.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, inflateRawSync } from 'node:zlib';
import { WebSocket as WsClient } from 'ws';
import type { Browser } from 'playwright-core';
import { WebSocketServer, type ServerOptions } from '../../src/server/websocket-server.js';
import type { TopicRegistry } from '../../src/server/topics.js';
import type { SharedFrames } from '../../src/connection/shared-frames.js';
import type { WebSocket } from '../../src/connection/websocket.js';
import { headerLength } from '../../src/protocol/frame.js';
import { noise, rawHandshake, type RawFrame, type RawPeer } from '../helpers/deflate.js';
import { launchBrowser } from '../helpers/browser.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const servers = new Set<WebSocketServer>();

after(async () => {
  for (const wss of servers) await stopServer(wss);
});

/** The Sec-WebSocket-Extensions value of each connection's 101 response ('' without one). */
const agreedBy = new WeakMap<WebSocket, string>();

/** Records what each connection of `wss` agreed to (`socket.extensions` names the extension only, as in ws). */
function recordAgreements(wss: WebSocketServer): void {
  const byRequest = new WeakMap<IncomingMessage, string>();
  wss.on('headers', (lines: string[], request: IncomingMessage) => {
    const line = lines.find((text) => text.startsWith('Sec-WebSocket-Extensions: '));
    byRequest.set(request, line === undefined ? '' : line.slice('Sec-WebSocket-Extensions: '.length));
  });
  wss.prependListener('connection', (socket: WebSocket, request: IncomingMessage) => agreedBy.set(socket, byRequest.get(request) ?? ''));
}

function agreed(socket: WebSocket): string {
  return agreedBy.get(socket) ?? '';
}

async function startServer(options: ServerOptions = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  recordAgreements(wss);
  servers.add(wss);
  await once(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

async function stopServer(wss: WebSocketServer): Promise<void> {
  servers.delete(wss);
  await wss.close({ timeout: 200 });
}

/** A ws client subscribed to `topic`, and its socket on the server side. */
async function wsSubscriber(
  wss: WebSocketServer,
  port: number,
  perMessageDeflate: unknown,
  topic = 'news',
): Promise<{ client: WsClient; socket: WebSocket }> {
  const accepted = once<[WebSocket]>(wss, 'connection');
  const client = new WsClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: perMessageDeflate as never });
  const [[socket]] = await Promise.all([accepted, once(client, 'open')]);
  socket.subscribe(topic);
  return { client, socket };
}

/** A raw peer that offers `extensions`, subscribed to `topic`: it sees every frame as written (RSV1, payload). */
async function rawSubscriber(
  wss: WebSocketServer,
  port: number,
  extensions: string,
  topic = 'news',
): Promise<{ peer: RawPeer; socket: WebSocket }> {
  const accepted = once<[WebSocket]>(wss, 'connection');
  const peer = await rawHandshake(port, extensions);
  const [socket] = await accepted;
  socket.subscribe(topic);
  return { peer, socket };
}

/** A raw frame's message: inflated from an empty window when RSV1 is set (what no context takeover promises). */
function contentOf(frame: RawFrame): Buffer {
  return frame.rsv1 ? inflateRawSync(Buffer.concat([frame.payload, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }) : frame.payload;
}

type CompressShared = TopicRegistry['_compressShared'];

/**
 * Counts the shared compressions of a server's publishes (calls into the codec for them). With `hold`,
 * each waits until release() is called; `onFill` runs right after a group's frames are filled in.
 */
function watchCompressions(wss: WebSocketServer, options: { hold?: boolean; onFill?: (shared: SharedFrames) => void } = {}) {
  // biome-ignore lint/complexity/useLiteralKeys: a private member, reachable by index only
  const registry = wss['_topics'] as TopicRegistry;
  const original: CompressShared = registry._compressShared.bind(registry);
  const calls: { windowBits: number; shared: SharedFrames; recipients: number }[] = [];
  const held: (() => void)[] = [];
  registry._compressShared = (message, windowBits, shared) => {
    calls.push({ windowBits, shared, recipients: shared.waiting });
    const onFill = options.onFill;
    if (onFill !== undefined) {
      const fill = shared.fill.bind(shared);
      shared.fill = (frames, bytes) => {
        fill(frames, bytes);
        onFill(shared);
      };
    }
    const run = () => original(message, windowBits, shared);
    if (options.hold) held.push(run);
    else run();
  };
  return {
    calls,
    release(): void {
      for (const run of held.splice(0)) run();
    },
  };
}

/** Resolves once `fill` has run for `shared` (checked right after its frames are written). */
function filled(shared: SharedFrames): Promise<void> {
  if (shared.frames !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const fill = shared.fill.bind(shared);
    shared.fill = (frames, bytes) => {
      fill(frames, bytes);
      resolve();
    };
  });
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Resolves with the next `count` messages of a ws client. */
function messages(client: WsClient, count: number, timeoutMs = 10_000): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const got: Received[] = [];
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`timed out with ${got.length} of ${count} messages`));
    }, timeoutMs);
    function onMessage(data: Buffer, isBinary: boolean): void {
      got.push({ data: Buffer.from(data), isBinary });
      if (got.length === count) {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(got);
      }
    }
    client.on('message', onMessage);
  });
}

/** A JSON document of about `rows` × 40 bytes that deflate shrinks well. */
function feed(seq: number, rows: number): string {
  const items = [];
  for (let k = 0; k < rows; k++)
    items.push({ seq, k, user: `user${k % 17}`, text: `message ${k} of feed ${seq}`, at: 1_700_000_000_000 + k * 31 });
  return JSON.stringify({ seq, items });
}

describe('shared compression with serverNoContextTakeover', () => {
  test('a large JSON publish is compressed once and the same RSV1 frame reaches every subscriber intact', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss);
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await wsSubscriber(wss, port, true));
    const raws = [];
    for (let i = 0; i < 2; i++) raws.push(await rawSubscriber(wss, port, 'permessage-deflate; client_max_window_bits'));
    for (const { socket } of [...clients, ...raws]) assert.match(agreed(socket), /server_no_context_takeover/);

    const json = feed(1, 2_000); // about 140 KB
    const arriving = clients.map(({ client }) => messages(client, 1));
    assert.equal(wss.publish('news', json), 5);
    for (const got of await Promise.all(arriving)) {
      assert.equal(got[0]!.isBinary, false);
      assert.equal(got[0]!.data.toString(), json);
    }
    const frames = await Promise.all(raws.map(async ({ peer }) => (await peer.waitForFrames(1))[0]!));
    for (const frame of frames) {
      assert.equal(frame.rsv1, true);
      assert.equal(frame.opcode, 0x1);
      assert.ok(frame.payload.length * 5 < Buffer.byteLength(json), `compressed to ${frame.payload.length} of ${json.length} bytes`);
      assert.equal(contentOf(frame).toString(), json);
    }
    assert.ok(frames[0]!.payload.equals(frames[1]!.payload), 'the same compressed bytes went to each');
    assert.equal(watch.calls.length, 1, 'one compression for the publish');
    assert.equal(watch.calls[0]!.recipients, 5);
    assert.equal(watch.calls[0]!.windowBits, 15);

    // broadcast goes the same way.
    const broadcastArriving = clients.map(({ client }) => messages(client, 1));
    assert.equal(wss.broadcast(json), 5);
    for (const got of await Promise.all(broadcastArriving)) assert.equal(got[0]!.data.toString(), json);
    for (const { peer } of raws) assert.ok((await peer.waitForFrames(2))[1]!.payload.equals(frames[0]!.payload));
    assert.equal(watch.calls.length, 2);
    await stopServer(wss);
    for (const { client } of clients) client.terminate();
  });

  test('compress: false, a message under the threshold, and one that deflate cannot shrink go plain', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss);
    const { peer } = await rawSubscriber(wss, port, 'permessage-deflate');
    const json = feed(2, 200);
    const random = noise(20_000, 7);
    wss.publish('news', json, { compress: false });
    wss.publish('news', 'small');
    wss.publish('news', random);
    wss.publish('news', json);
    const frames = await peer.waitForFrames(4);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.rsv1]),
      [
        [0x1, false],
        [0x1, false],
        [0x2, false],
        [0x1, true],
      ],
    );
    assert.equal(frames[0]!.payload.toString(), json);
    assert.equal(frames[1]!.payload.toString(), 'small');
    assert.ok(frames[2]!.payload.equals(random), 'incompressible data is sent as it is');
    assert.equal(contentOf(frames[3]!).toString(), json);
    assert.equal(watch.calls.length, 2, 'compress: false and the small message were never compressed');
    await stopServer(wss);
  });

  test('subscribers with different windows get one compression per window size', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss);
    const wide = await rawSubscriber(wss, port, 'permessage-deflate');
    const narrow = [
      await rawSubscriber(wss, port, 'permessage-deflate; server_max_window_bits=9'),
      await rawSubscriber(wss, port, 'permessage-deflate; server_max_window_bits=9'),
    ];
    // A random block repeated 3000 bytes apart (a 9-bit window cannot reach it, a 15-bit one does),
    // then text that any window shrinks.
    const data = Buffer.concat([noise(3000, 3), noise(3000, 3), Buffer.from('abc '.repeat(3000))]);
    wss.publish('news', data);
    const [wideFrame] = await wide.peer.waitForFrames(1);
    const narrowFrames = await Promise.all(narrow.map(async ({ peer }) => (await peer.waitForFrames(1))[0]!));
    assert.deepEqual(
      watch.calls.map((c) => [c.windowBits, c.recipients]).sort(),
      [
        [15, 1],
        [9, 2],
      ].sort(),
    );
    assert.ok(wideFrame!.rsv1 && wideFrame!.payload.length < 4000, 'the 15-bit window finds the repeat');
    assert.ok(contentOf(wideFrame!).equals(data));
    assert.ok(narrowFrames[0]!.rsv1 && narrowFrames[0]!.payload.length > 6000, 'the 9-bit window does not');
    assert.ok(narrowFrames[0]!.payload.equals(narrowFrames[1]!.payload));
    // What a peer that inflates with a 9-bit window can read.
    const inflated = inflateRawSync(Buffer.concat([narrowFrames[0]!.payload, TAIL]), {
      windowBits: 9,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    assert.ok(inflated.equals(data));
    await stopServer(wss);
  });
});

describe('order while zlib works', () => {
  test('later publishes and direct sends wait for a publish still being compressed', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss, { hold: true });
    const { client, socket } = await wsSubscriber(wss, port, true);
    const big = feed(3, 300);
    const bigger = feed(4, 600);
    const arriving = messages(client, 6);
    wss.publish('news', big); // held in zlib
    socket.send('direct after the publish');
    wss.publish('news', 'small publish');
    socket.send(Buffer.from('direct binary'));
    wss.publish('news', bigger); // also held
    socket.send(feed(5, 300)); // compressed by the connection's own codec
    assert.equal(watch.calls.length, 2);
    watch.release();
    const got = await arriving;
    assert.deepEqual(
      got.map((m) => m.data.toString()),
      [big, 'direct after the publish', 'small publish', 'direct binary', bigger, feed(5, 300)],
    );
    assert.deepEqual(
      got.map((m) => m.isBinary),
      [false, false, false, true, false, false],
    );
    await stopServer(wss);
    client.terminate();
  });

  test('a publish made during a fragmented send goes after its last fragment, compressed', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss, { hold: true });
    const { peer, socket } = await rawSubscriber(wss, port, 'permessage-deflate');
    const one = feed(6, 200);
    const two = feed(7, 200);
    // Compressed while held back, before the last fragment is sent.
    socket.send('first ', { fin: false, compress: false });
    wss.publish('news', one);
    watch.release();
    await filled(watch.calls[0]!.shared);
    socket.send('last', { fin: true });
    // Still being compressed when the last fragment is sent.
    socket.send('again ', { fin: false, compress: false });
    wss.publish('news', two);
    socket.send('end', { fin: true });
    socket.send('direct');
    watch.release();
    const frames = await peer.waitForFrames(7);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.rsv1]),
      [
        [0x1, false, false],
        [0x0, true, false],
        [0x1, true, true],
        [0x1, false, false],
        [0x0, true, false],
        [0x1, true, true],
        [0x1, true, false],
      ],
    );
    assert.equal(Buffer.concat([frames[0]!.payload, frames[1]!.payload]).toString(), 'first last');
    assert.equal(contentOf(frames[2]!).toString(), one);
    assert.equal(Buffer.concat([frames[3]!.payload, frames[4]!.payload]).toString(), 'again end');
    assert.equal(contentOf(frames[5]!).toString(), two);
    assert.equal(frames[6]!.payload.toString(), 'direct');
    await stopServer(wss);
  });

  test('a close right after a publish sends the compressed message first, then the close frame', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss, { hold: true });
    const { peer, socket } = await rawSubscriber(wss, port, 'permessage-deflate');
    const json = feed(17, 200);
    wss.publish('news', json);
    socket.close(1000, 'bye');
    watch.release();
    const frames = await peer.waitForFrames(2);
    assert.equal(frames[0]!.rsv1, true);
    assert.equal(contentOf(frames[0]!).toString(), json);
    assert.equal(frames[1]!.opcode, 0x8);
    assert.equal(frames[1]!.payload.readUInt16BE(0), 1000);
    await stopServer(wss);
  });

  test('mixed subscribers get thousands of mixed publishes, broadcasts and direct sends intact and in order', {
    timeout: 120_000,
  }, async () => {
    // No serverNoContextTakeover on the server: each client decides by what it offers.
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const watch = watchCompressions(wss);
    const plain = await wsSubscriber(wss, port, false);
    const context = await wsSubscriber(wss, port, true);
    const shared15 = await wsSubscriber(wss, port, { serverNoContextTakeover: true });
    const shared10 = await wsSubscriber(wss, port, { serverNoContextTakeover: true, serverMaxWindowBits: 10 });
    const raw = await rawSubscriber(wss, port, 'permessage-deflate; server_no_context_takeover');
    assert.equal(agreed(plain.socket), '');
    assert.doesNotMatch(agreed(context.socket), /server_no_context_takeover/);
    assert.match(agreed(context.socket), /permessage-deflate/);
    assert.match(agreed(shared15.socket), /server_no_context_takeover/);
    assert.match(agreed(shared10.socket), /server_no_context_takeover; server_max_window_bits=10/);
    assert.match(agreed(raw.socket), /server_no_context_takeover/);
    const wsClients = [plain, context, shared15, shared10];
    const sockets = [...wsClients.map((c) => c.socket), raw.socket];

    const COUNT = 2_000;
    const expected: Received[] = [];
    let sharedPublishes = 0; // publishes that the two no-context groups (windows 15 and 10) compress
    const expectRsv1AtRaw: boolean[] = [];
    const arriving = wsClients.map(({ client }) => messages(client, COUNT, 60_000));
    for (let i = 0; i < COUNT; i++) {
      const kind = i % 8;
      const rows = 10 + ((i * 7) % 120); // about 0.5 to 5 KB: on both sides of the 1 KiB threshold
      let data: string | Buffer;
      let isBinary = false;
      if (kind === 0) {
        data = `small text ${i}`;
        wss.publish('news', data);
      } else if (kind === 1) {
        data = feed(i, rows);
        wss.publish('news', data);
      } else if (kind === 2) {
        data = feed(i, rows);
        for (const socket of sockets) socket.send(data);
      } else if (kind === 3) {
        isBinary = true;
        data = i % 16 < 8 ? Buffer.alloc(rows * 40, i % 251) : noise(rows * 40, i);
        wss.publish('news', data);
      } else if (kind === 4) {
        isBinary = true;
        data = Buffer.from(`small binary ${i}`);
        wss.publish('news', data);
      } else if (kind === 5) {
        data = feed(i, rows);
        wss.publish('news', data, { compress: false });
      } else if (kind === 6) {
        data = feed(i, rows);
        wss.broadcast(data);
      } else {
        data = `direct small ${i}`;
        for (const socket of sockets) socket.send(data);
      }
      const bytes = Buffer.from(data);
      expected.push({ data: bytes, isBinary });
      const large = bytes.length >= 1024;
      const eligible = large && kind !== 5 && kind !== 2 && kind !== 7;
      if (eligible) sharedPublishes++;
      // At the raw peer: direct sends are compressed by its own codec; shared ones unless deflate cannot shrink them.
      expectRsv1AtRaw.push(large && kind !== 5 && !(kind === 3 && i % 16 >= 8));
      // Let some compressions finish between bursts, so publishes meet both busy and idle queues.
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }

    for (const got of await Promise.all(arriving)) {
      assert.equal(got.length, COUNT);
      for (let i = 0; i < COUNT; i++) {
        if (!got[i]!.data.equals(expected[i]!.data) || got[i]!.isBinary !== expected[i]!.isBinary) {
          assert.fail(
            `message ${i}: got ${got[i]!.data.subarray(0, 40).toString()}… (binary ${got[i]!.isBinary}), expected ${expected[i]!.data.subarray(0, 40).toString()}…`,
          );
        }
      }
    }
    const frames = await raw.peer.waitForFrames(COUNT, 60_000);
    for (let i = 0; i < COUNT; i++) {
      const frame = frames[i]!;
      assert.equal(frame.rsv1, expectRsv1AtRaw[i], `RSV1 of message ${i}`);
      assert.ok(contentOf(frame).equals(expected[i]!.data), `message ${i} at the raw peer`);
      assert.equal(frame.opcode, expected[i]!.isBinary ? 0x2 : 0x1);
    }
    assert.ok(sharedPublishes > 500);
    assert.equal(watch.calls.length, sharedPublishes * 2, 'one compression per eligible publish and window size');
    for (const call of watch.calls) assert.equal(call.recipients, call.windowBits === 15 ? 2 : 1);
    await stopServer(wss);
    for (const { client } of wsClients) client.terminate();
  });
});

describe('memory and going away', () => {
  test('queued bytes count the uncompressed size while zlib works, then the compressed frame', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    let afterFill = -1;
    let socketOfInterest: WebSocket | null = null;
    const watch = watchCompressions(wss, {
      hold: true,
      onFill: () => {
        afterFill = socketOfInterest!.bufferedAmount;
      },
    });
    const { client, socket } = await wsSubscriber(wss, port, true);
    socketOfInterest = socket;
    const json = feed(8, 1_000);
    const plainFrame = headerLength(Buffer.byteLength(json), false) + Buffer.byteLength(json);
    const arriving = messages(client, 1);
    wss.publish('news', json);
    assert.equal(socket.bufferedAmount, plainFrame);
    watch.release();
    await arriving;
    const shared = watch.calls[0]!.shared;
    assert.ok(shared.bytes < plainFrame / 5, `compressed frame of ${shared.bytes} bytes`);
    // The compressed frame then goes to the socket with the turn's other writes, and the loopback peer takes it.
    assert.equal(afterFill, 0, 'right after compression, the frame is handed to the socket: nothing is left waiting');
    assert.equal(shared.waiting, 0, 'the shared frames hold no connection once filled');
    await stopServer(wss);
    client.terminate();
  });

  test('the slow-client bound applies to shared compressed publishes', async () => {
    const { wss, port } = await startServer({
      perMessageDeflate: { serverNoContextTakeover: true },
      maxBackpressure: 100_000,
      backpressurePolicy: 'drop',
    });
    const watch = watchCompressions(wss, { hold: true });
    const { client } = await wsSubscriber(wss, port, true);
    const json = feed(9, 800); // about 60 KB uncompressed
    let drops = 0;
    wss.on('drop', () => drops++);
    assert.equal(wss.publish('news', json), 1); // an empty queue always takes one
    assert.equal(wss.publish('news', json), 1); // the same turn: not backlog yet
    await new Promise((resolve) => setImmediate(resolve));
    // A turn later, both still wait for zlib: backlog, counted at their uncompressed size. Another does not fit.
    assert.equal(wss.publish('news', json), 0);
    assert.equal(drops, 1);
    assert.equal(watch.calls.length, 2);
    const arriving = messages(client, 2);
    watch.release();
    for (const message of await arriving) assert.equal(message.data.toString(), json);
    await stopServer(wss);
    client.terminate();
  });

  test('a subscriber that goes while its publish is being compressed causes no error; the others get it', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } });
    const watch = watchCompressions(wss, { hold: true });
    const staying = await wsSubscriber(wss, port, true);
    const leaving = await wsSubscriber(wss, port, true);
    const terminated = await wsSubscriber(wss, port, true);
    const errors: unknown[] = [];
    for (const { socket, client } of [staying, leaving, terminated]) {
      socket.on('error', (error) => errors.push(error));
      client.on('error', (error) => errors.push(error));
    }
    const json = feed(10, 400);
    const arriving = messages(staying.client, 2);
    assert.equal(wss.publish('news', json), 3);
    wss.publish('news', 'after');
    // The server drops one: its socket is gone before zlib is done.
    const terminatedClosed = once(terminated.socket, 'close');
    terminated.socket.terminate();
    await terminatedClosed;
    // The peer of another goes: the end of its socket waits behind the publish still being compressed.
    const leavingEnded = once(leaving.socket._socket!, 'end');
    const leavingClosed = once(leaving.socket, 'close');
    leaving.client.terminate();
    await leavingEnded;
    assert.equal(watch.calls[0]!.shared.waiting, 3);
    watch.release();
    await leavingClosed;
    const got = await arriving;
    assert.deepEqual(
      got.map((m) => m.data.toString()),
      [json, 'after'],
    );
    assert.deepEqual(errors, []);
    assert.equal(leaving.socket.bufferedAmount, 0);
    assert.equal(wss.subscriberCount('news'), 1);
    await stopServer(wss);
    staying.client.terminate();
  });
});

describe('Chromium as a subscriber', () => {
  let browser: Browser | null = null;
  let http: Server | null = null;

  after(async () => {
    await browser?.close();
    if (http !== null) await closeServer(http);
  });

  test('Chromium receives compressed publishes intact', { timeout: 90_000 }, async () => {
    const page = `<!doctype html><html><head><meta charset="utf-8"><title>subscriber</title></head><body><script>
window.received = [];
const socket = new WebSocket('ws://' + location.host + '/feed');
socket.binaryType = 'arraybuffer';
socket.onopen = () => { document.title = 'open'; };
socket.onmessage = (event) => {
  if (typeof event.data === 'string') { window.received.push(event.data); return; }
  const bytes = new Uint8Array(event.data);
  let hash = 2166136261;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 16777619) >>> 0;
  window.received.push('binary ' + bytes.length + ' ' + hash);
};
socket.onclose = (event) => { document.title = 'closed ' + event.code; };
</script></body></html>`;
    http = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page);
    });
    const wss = new WebSocketServer({ server: http, path: '/feed', perMessageDeflate: { serverNoContextTakeover: true } });
    recordAgreements(wss);
    servers.add(wss);
    const watch = watchCompressions(wss);
    const port = await listenHttp(http);
    browser = await launchBrowser();
    const tab = await browser.newPage();
    const accepted = once<[WebSocket]>(wss, 'connection', 30_000);
    await tab.goto(`http://127.0.0.1:${port}/`);
    const [socket] = await accepted;
    socket.subscribe('news');
    assert.equal(socket.extensions, 'permessage-deflate');
    assert.match(agreed(socket), /server_no_context_takeover/);

    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      if (i % 4 === 3) {
        const bytes = Buffer.alloc(5_000 + i * 100, i);
        bytes.write(`binary message ${i}`);
        wss.publish('news', bytes);
        let hash = 2166136261;
        for (const byte of bytes) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
        expected.push(`binary ${bytes.length} ${hash}`);
      } else {
        const text = i % 4 === 2 ? `small ${i} ✓` : feed(i, 100 + i * 20) + ' ✓ ünïcödé';
        wss.publish('news', text);
        expected.push(text);
      }
    }
    await tab.waitForFunction(`window.received.length >= ${expected.length}`, undefined, { timeout: 30_000 });
    const received = (await tab.evaluate('window.received')) as string[];
    assert.deepEqual(received, expected);
    assert.equal(watch.calls.length, 15, 'every large publish was compressed');
    assert.notEqual(await tab.title(), 'closed 1002');
    await tab.close();
    await stopServer(wss);
  });
});
