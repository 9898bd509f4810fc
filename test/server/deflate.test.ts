// permessage-deflate on real sockets: interop with the `ws` package in both roles for every combination
// of the four parameters, the wire rules (RSV1, control frames, thresholds, fragments), limits (bomb,
// corrupt stream), memory (contexts freed), and order (thousands of mixed messages, the close frame last).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/connection/websocket.js';
import { WebSocketServer, type ServerOptions } from '../../src/server/websocket-server.js';
import { acceptDeflateResponse, deflateOffer, resolveDeflateOptions, type PerMessageDeflateOptions } from '../../src/protocol/deflate.js';
import { createDeflateCompression, type DeflateCodec } from '../../src/connection/deflate-codec.js';
import { Opcode } from '../../src/protocol/frame.js';
import { handshake, noise, rawHandshake, zeroBomb, type RawPeer } from '../helpers/deflate.js';
import { once } from '../helpers/net.js';
import { WebSocket as Client } from '../../src/index.js';

const servers = new Set<WebSocketServer | WsServer>();

after(async () => {
  for (const wss of servers) await stopServer(wss);
});

async function startServer(options: ServerOptions = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.add(wss);
  await once(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

async function startWsServer(perMessageDeflate: boolean | PerMessageDeflateOptions): Promise<{ wss: WsServer; port: number }> {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: perMessageDeflate as never });
  servers.add(wss);
  await once(wss, 'listening');
  return { wss, port: (wss.address() as AddressInfo).port };
}

async function stopServer(wss: WebSocketServer | WsServer): Promise<void> {
  servers.delete(wss);
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** Resolves with a ws client once it is open, and the server's Sec-WebSocket-Extensions answer. */
async function wsClient(
  port: number,
  perMessageDeflate: boolean | PerMessageDeflateOptions,
): Promise<{ client: WsClient; response: string | undefined }> {
  const client = new WsClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: perMessageDeflate as never });
  const upgraded = once<[IncomingMessage]>(client, 'upgrade');
  const opened = once(client, 'open');
  const [res] = await upgraded;
  await opened;
  return { client, response: res.headers['sec-websocket-extensions'] as string | undefined };
}

/**
 * Our WebSocket in the client role: the handshake is done by hand with the offer deflate.ts builds, the
 * response is checked by deflate.ts, and the socket is handed to the connection (as src/client/ will).
 */
async function ourClient(
  port: number,
  option: boolean | PerMessageDeflateOptions,
  maxPayload = 0,
): Promise<{ ws: WebSocket; response: string | undefined }> {
  const options = resolveDeflateOptions(option);
  const hs = await handshake(port, options ? deflateOffer(options) : undefined);
  assert.match(hs.status, / 101 /);
  const response = hs.headers['sec-websocket-extensions'];
  const accepted = acceptDeflateResponse(response, options);
  assert.ok(accepted.ok, accepted.ok ? '' : accepted.message);
  const ws = new WebSocket();
  ws._isServer = false;
  ws._extensions = accepted.agreement?.response ?? '';
  const compression = accepted.agreement
    ? createDeflateCompression(accepted.agreement.params, options!, { isServer: false, maxPayload })
    : null;
  ws._setSocket(hs.socket, hs.head, { maxPayload }, compression);
  hs.socket.resume();
  return { ws, response };
}

/** Either end: ours or a `ws` client, seen as the emitter of (data, isBinary) they both are. */
type Peer = EventEmitter & { send(data: Buffer, options: { binary: boolean }): void };

/** Resolves with the next `count` messages of an emitter that emits (data, isBinary). */
function messages(target: Peer, count: number, timeoutMs = 10_000): Promise<{ data: Buffer; isBinary: boolean }[]> {
  return new Promise((resolve, reject) => {
    const got: { data: Buffer; isBinary: boolean }[] = [];
    const timer = setTimeout(() => {
      target.off('message', onMessage);
      reject(new Error(`timed out with ${got.length} of ${count} messages`));
    }, timeoutMs);
    const onMessage = (data: Buffer, isBinary: boolean) => {
      got.push({ data: Buffer.from(data), isBinary });
      if (got.length === count) {
        clearTimeout(timer);
        target.off('message', onMessage);
        resolve(got);
      }
    };
    target.on('message', onMessage);
  });
}

/**
 * Messages that break when a side gets the parameters wrong: each repeats a random block at a distance
 * of 3000 bytes (beyond a 9- or 10-bit window), and each is sent twice (the second copy refers to the
 * first unless the sender resets its context).
 */
const PROBES = [Buffer.concat([noise(3000, 11), noise(3000, 11)]), Buffer.from('{"type":"chat","text":"hello hello hello"} '.repeat(80))];

function echo(ws: Peer): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
}

/** Sends each probe twice from `sender` (binary, then as text) and checks that `echoer` returns it intact. */
async function roundTrips(sender: WebSocket | WsClient): Promise<void> {
  const expected: { data: Buffer; isBinary: boolean }[] = [];
  for (const probe of PROBES) {
    for (let i = 0; i < 2; i++) {
      const isBinary = probe === PROBES[0];
      sender.send(isBinary ? probe : probe.toString(), { binary: isBinary });
      expected.push({ data: probe, isBinary });
    }
  }
  const got = await messages(sender, expected.length);
  assert.deepEqual(got, expected);
}

function combinations(): PerMessageDeflateOptions[] {
  const out: PerMessageDeflateOptions[] = [];
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (const serverMaxWindowBits of [undefined, 9]) {
        for (const clientMaxWindowBits of [undefined, 10]) {
          const o: PerMessageDeflateOptions = { serverNoContextTakeover, clientNoContextTakeover };
          if (serverMaxWindowBits !== undefined) o.serverMaxWindowBits = serverMaxWindowBits;
          if (clientMaxWindowBits !== undefined) o.clientMaxWindowBits = clientMaxWindowBits;
          out.push(o);
        }
      }
    }
  }
  return out;
}

/** The response our server gives to an offer that asks for `o` (as ws and our client build offers). */
function expectedResponse(o: PerMessageDeflateOptions): string {
  const parts = ['permessage-deflate'];
  if (o.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (o.clientNoContextTakeover) parts.push('client_no_context_takeover');
  if (o.serverMaxWindowBits !== undefined) parts.push(`server_max_window_bits=${o.serverMaxWindowBits}`);
  if (o.clientMaxWindowBits !== undefined) parts.push(`client_max_window_bits=${o.clientMaxWindowBits}`);
  return parts.join('; ');
}

const label = (o: PerMessageDeflateOptions) => JSON.stringify(o);

describe('interop with ws: ws client, our server', () => {
  test('every combination of the four parameters offered by the client', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { threshold: 0 } });
    wss.on('connection', echo);
    for (const o of combinations()) {
      const { client, response } = await wsClient(port, { ...o, threshold: 0 });
      assert.equal(response, expectedResponse(o), label(o));
      await roundTrips(client);
      client.close();
      await once(client, 'close');
    }
    await stopServer(wss);
  });

  test('every combination of the four parameters asked for by the server', async () => {
    for (const o of combinations()) {
      const { wss, port } = await startServer({ perMessageDeflate: { ...o, threshold: 0 } });
      wss.on('connection', echo);
      const { client, response } = await wsClient(port, { threshold: 0 });
      assert.equal(response, expectedResponse(o), label(o));
      await roundTrips(client);
      client.close();
      await once(client, 'close');
      await stopServer(wss);
    }
  });

  test('the server sends to a ws client with the parameters it chose', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { serverMaxWindowBits: 9, serverNoContextTakeover: true, threshold: 0 } });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client } = await wsClient(port, { threshold: 0 });
    const [socket] = await connected;
    const got = messages(client, 4);
    for (const probe of PROBES) {
      socket.send(probe);
      socket.send(probe);
    }
    assert.deepEqual(
      (await got).map((m) => m.data),
      [PROBES[0], PROBES[0], PROBES[1], PROBES[1]],
    );
    client.close();
    await stopServer(wss);
  });

  test('off by default: the offer is ignored and messages go uncompressed', async () => {
    const { wss, port } = await startServer();
    wss.on('connection', echo);
    const { client, response } = await wsClient(port, true);
    assert.equal(response, undefined);
    assert.equal(client.extensions, '');
    await roundTrips(client);
    client.close();
    await stopServer(wss);
  });

  test('a client that offers nothing gets no compression from a server that has it on', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client, response } = await wsClient(port, false);
    const [socket] = await connected;
    assert.equal(response, undefined);
    assert.equal(socket.extensions, '');
    echo(socket);
    await roundTrips(client);
    client.close();
    await stopServer(wss);
  });
});

describe('interop with ws: our WebSocket as client, ws server', () => {
  test('every combination of the four parameters offered by our client', async () => {
    const { wss, port } = await startWsServer({ threshold: 0 });
    wss.on('connection', (socket) => echo(socket as unknown as WsClient));
    for (const o of combinations()) {
      const { ws, response } = await ourClient(port, { ...o, threshold: 0 });
      assert.equal(response, expectedResponse(o), label(o));
      await roundTrips(ws);
      ws.close();
      await once(ws, 'close');
    }
    await stopWsServerClean(wss);
  });

  test('every combination of the four parameters asked for by the ws server', async () => {
    for (const o of combinations()) {
      const { wss, port } = await startWsServer({ ...o, threshold: 0 });
      wss.on('connection', (socket) => echo(socket as unknown as WsClient));
      const { ws } = await ourClient(port, { threshold: 0 });
      await roundTrips(ws);
      ws.close();
      await once(ws, 'close');
      await stopWsServerClean(wss);
    }
  });

  test('our client with perMessageDeflate off talks plainly to a ws server that has it on', async () => {
    const { wss, port } = await startWsServer(true);
    wss.on('connection', (socket) => echo(socket as unknown as WsClient));
    const { ws, response } = await ourClient(port, false);
    assert.equal(response, undefined);
    await roundTrips(ws);
    ws.close();
    await stopWsServerClean(wss);
  });
});

async function stopWsServerClean(wss: WsServer): Promise<void> {
  await stopServer(wss);
}

// ---------------------------------------------------------------- the wire, seen from a raw peer

async function rawPair(
  options: ServerOptions,
  offer: string | undefined = 'permessage-deflate',
): Promise<{ wss: WebSocketServer; socket: WebSocket; peer: RawPeer }> {
  const { wss, port } = await startServer(options);
  const connected = once<[WebSocket]>(wss, 'connection');
  const peer = await rawHandshake(port, offer);
  const [socket] = await connected;
  return { wss, socket, peer };
}

function clientCodec(params = {}): DeflateCodec {
  return createDeflateCompression(
    { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...params },
    resolveDeflateOptions(true)!,
    { isServer: false, maxPayload: 0 },
  );
}

function inflate(codec: DeflateCodec, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.decompress(data, true, (error, result) => (error ? reject(error) : resolve(result!))));
}

function deflate(codec: DeflateCodec, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.compress(data, true, (error, result) => (error ? reject(error) : resolve(result!))));
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('the wire', () => {
  test('RSV1 on the first frame of a compressed message only; control frames and small messages plain', async () => {
    const { wss, socket, peer } = await rawPair({ perMessageDeflate: true });
    const parts = ['first part '.repeat(100), 'second part '.repeat(100), 'third part '.repeat(100)];
    socket.send(parts[0]!, { fin: false });
    socket.send(parts[1]!, { fin: false });
    socket.ping('ping');
    socket.send(parts[2]!, { fin: true });
    socket.send('tiny');
    socket.send('x'.repeat(2000), { compress: false });
    socket.send(Buffer.alloc(1024, 'y'));
    const frames = await peer.waitForFrames(7);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.rsv1]),
      [
        [Opcode.Text, false, true],
        [Opcode.Continuation, false, false],
        [Opcode.Ping, true, false],
        [Opcode.Continuation, true, false],
        [Opcode.Text, true, false],
        [Opcode.Text, true, false],
        [Opcode.Binary, true, true],
      ],
    );
    const codec = clientCodec();
    const message = Buffer.concat([frames[0]!.payload, frames[1]!.payload, frames[3]!.payload]);
    assert.equal((await inflate(codec, message)).toString(), parts.join(''));
    assert.equal(frames[4]!.payload.toString(), 'tiny');
    assert.deepEqual(await inflate(codec, frames[6]!.payload), Buffer.alloc(1024, 'y'));
    codec.cleanup();
    await stopServer(wss);
  });

  test('a fragmented message whose first fragment is under the threshold goes uncompressed whole', async () => {
    const { wss, socket, peer } = await rawPair({ perMessageDeflate: true });
    socket.send('small', { fin: false });
    socket.send('large '.repeat(1000), { fin: true });
    const frames = await peer.waitForFrames(2);
    assert.deepEqual(
      frames.map((f) => f.rsv1),
      [false, false],
    );
    assert.equal(Buffer.concat(frames.map((f) => f.payload)).toString(), 'small' + 'large '.repeat(1000));
    await stopServer(wss);
  });

  test('the examples of RFC 7692, uncompressed messages, and context across messages are read', async () => {
    const { wss, socket, peer } = await rawPair({ perMessageDeflate: true });
    const got = messages(socket, 9);
    peer.send(Opcode.Text, hex('f2 48 cd c9 c9 07 00'), { rsv1: true });
    peer.send(Opcode.Text, hex('f2 00 11 00 00'), { rsv1: true }); // refers to the previous message
    peer.send(Opcode.Text, Buffer.from('Hello')); // uncompressed after negotiation
    peer.send(Opcode.Text, hex('00 05 00 fa ff 48 65 6c 6c 6f 00'), { rsv1: true });
    peer.send(Opcode.Text, hex('f3 48 cd c9 c9 07 00'), { rsv1: true }); // BFINAL: the stream ends
    peer.send(Opcode.Text, hex('f2 48 cd c9 c9 07 00'), { rsv1: true }); // ... and a new one starts
    peer.send(Opcode.Text, hex('f2 48 05 00 00 00 ff ff'), { rsv1: true, fin: false }); // two blocks, two frames
    peer.send(Opcode.Continuation, hex('ca c9 c9 07 00'), { fin: true });
    peer.send(Opcode.Binary, Buffer.from([0x00]), { rsv1: true }); // an empty compressed message
    peer.send(Opcode.Text, Buffer.from('Hello'));
    const all = await got;
    assert.deepEqual(
      all.map((m) => m.data.toString()),
      ['Hello', 'Hello', 'Hello', 'Hello', 'Hello', 'Hello', 'Hello', '', 'Hello'],
    );
    assert.equal(all[7]!.isBinary, true);
    peer.socket.destroy();
    await stopServer(wss);
  });

  test('RSV1 on a continuation or a control frame, or without negotiation, closes with 1002', async () => {
    const cases: [string | undefined, (peer: RawPeer) => void][] = [
      [
        'permessage-deflate',
        (p) => {
          p.send(Opcode.Text, hex('f2 48'), { rsv1: true, fin: false });
          p.send(Opcode.Continuation, hex('cd c9 c9 07 00'), { rsv1: true });
        },
      ],
      ['permessage-deflate', (p) => p.send(Opcode.Ping, Buffer.from('x'), { rsv1: true })],
      [undefined, (p) => p.send(Opcode.Text, hex('f2 48 cd c9 c9 07 00'), { rsv1: true })],
    ];
    const { wss, port } = await startServer({ perMessageDeflate: true });
    for (const [offer, act] of cases) {
      const peer = await rawHandshake(port, offer);
      act(peer);
      assert.equal(await peer.closeCode(), 1002);
    }
    await stopServer(wss);
  });

  test('a corrupt stream closes with 1007, as does invalid UTF-8 inside compressed text', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const errors: unknown[] = [];
    wss.on('connection', (socket) => socket.on('error', (error: unknown) => errors.push(error)));
    const codec = clientCodec();
    const badText = await deflate(codec, Buffer.from([0x48, 0xff, 0xfe, 0x6f]));
    codec.cleanup();
    for (const payload of [hex('ff ff ff ff'), hex('f2 48 cd c9 c9 07 00 07'), badText]) {
      const peer = await rawHandshake(port, 'permessage-deflate');
      peer.send(Opcode.Text, payload, { rsv1: true });
      assert.equal(await peer.closeCode(), 1007);
    }
    assert.equal(errors.length, 3);
    assert.deepEqual(
      errors.map((e) => (e as { closeCode: number }).closeCode),
      [1007, 1007, 1007],
    );
    await stopServer(wss);
  });

  test('a 1 GiB bomb in a 1 MiB frame closes with 1009 without inflating the rest', async () => {
    const { wss, socket, peer } = await rawPair({ perMessageDeflate: true, maxPayload: 2 * 1024 * 1024 });
    const bomb = await zeroBomb(1024);
    assert.ok(bomb.length < 1.1 * 1024 * 1024);
    const error = once<[Error & { closeCode: number; code: string }]>(socket, 'error');
    // Garbage after the bomb: reaching the end of the input would give 1007, not 1009.
    peer.send(Opcode.Binary, Buffer.concat([bomb, hex('ff ff ff ff')]), { rsv1: true });
    const [e] = await error;
    assert.equal(e.closeCode, 1009);
    assert.equal(e.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(await peer.closeCode(), 1009);
    // The server carries on.
    const next = await rawHandshake((wss.address() as AddressInfo).port, 'permessage-deflate');
    const hello = messages(wss.clients.values().next().value as WebSocket, 1).catch(() => null);
    next.send(Opcode.Text, hex('f2 48 cd c9 c9 07 00'), { rsv1: true });
    assert.equal((await hello)?.[0]?.data.toString(), 'Hello');
    next.socket.destroy();
    await stopServer(wss);
  });
});

// ---------------------------------------------------------------- order, memory, callbacks

describe('order', () => {
  const COUNT = 3000;

  /** Message i: compressed text, a small (uncompressed) text, text with compress: false, compressed binary. */
  function mixed(i: number): { data: string | Buffer; compress: boolean } {
    switch (i % 4) {
      case 0:
        return { data: `${i}:` + 'lorem ipsum '.repeat(120), compress: true };
      case 1:
        return { data: `${i}`, compress: true };
      case 2:
        return { data: `${i}:` + 'dolor sit '.repeat(150), compress: false };
      default:
        return { data: Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(2000, i & 0xff)]), compress: true };
    }
  }

  function check(got: { data: Buffer }[]): void {
    assert.equal(got.length, COUNT);
    for (let i = 0; i < COUNT; i++) {
      const expected = mixed(i).data;
      assert.deepEqual(got[i]!.data, Buffer.isBuffer(expected) ? expected : Buffer.from(expected), `message ${i}`);
    }
  }

  test('thousands of mixed compressed and plain messages from our server arrive in order, then the close frame', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client } = await wsClient(port, true);
    const [socket] = await connected;
    const got: { data: Buffer }[] = [];
    let pings = 0;
    client.on('message', (data: Buffer) => got.push({ data: Buffer.from(data) }));
    client.on('ping', () => pings++);
    const closed = once<[number, Buffer]>(client, 'close', 30_000);
    for (let i = 0; i < COUNT; i++) {
      const { data, compress } = mixed(i);
      socket.send(data, { compress });
      if (i % 500 === 0) socket.ping();
    }
    assert.ok(socket.bufferedAmount > 0);
    socket.close(1000, 'done');
    const [code, reason] = await closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'done');
    assert.equal(pings, COUNT / 500);
    check(got);
    await stopServer(wss);
  });

  test('thousands of mixed messages from a ws client arrive in order at our server', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client } = await wsClient(port, true);
    const [socket] = await connected;
    const got = messages(socket, COUNT, 30_000);
    for (let i = 0; i < COUNT; i++) {
      const { data, compress } = mixed(i);
      client.send(data, { compress });
    }
    check(await got);
    client.close();
    await stopServer(wss);
  });

  test('thousands of mixed messages from our client role arrive in order at a ws server', async () => {
    const { wss, port } = await startWsServer(true);
    const connected = once<[WsClient]>(wss, 'connection');
    const { ws } = await ourClient(port, true);
    const [socket] = await connected;
    const got = messages(socket, COUNT, 30_000);
    for (let i = 0; i < COUNT; i++) {
      const { data, compress } = mixed(i);
      ws.send(data, { compress });
    }
    check(await got);
    ws.close();
    await stopServer(wss);
  });

  test('a close right after a large compressed message does not overtake it', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client } = await wsClient(port, true);
    const [socket] = await connected;
    const big = noise(512 * 1024, 5);
    const got = messages(client, 1);
    const closed = once<[number]>(client, 'close');
    let sent: Error | null | undefined;
    socket.send(big, (error) => (sent = error ?? null));
    socket.close(4000, 'bye');
    assert.deepEqual((await got)[0]!.data, big);
    assert.equal((await closed)[0], 4000);
    assert.equal(sent, null);
    await stopServer(wss);
  });

  test("the peer's close frame or a protocol error during a compression: queued frames go first, then the close, then the end", async () => {
    const big = noise(1024 * 1024, 9);
    const { wss, port } = await startServer({ perMessageDeflate: true });
    wss.on('connection', (socket) => socket.on('message', () => socket.send(big)));
    const close = Buffer.from([0x03, 0xe8]); // 1000
    const frameWith = (opcode: number, payload: Buffer, first: number | null = null) => {
      const frame = Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
      if (first !== null) frame[0] = first;
      return frame;
    };
    for (const [second, code] of [
      [frameWith(Opcode.Close, close), 1000],
      [frameWith(Opcode.Text, Buffer.from('x'), 0xa1), 1002], // RSV2 set: the connection is failed
    ] as const) {
      const peer = await rawHandshake(port, 'permessage-deflate');
      // One write: the server reads "go" (and starts compressing its answer), then the second frame.
      peer.socket.write(Buffer.concat([frameWith(Opcode.Text, Buffer.from('go')), second]));
      assert.equal(await peer.closeCode(), code);
      assert.deepEqual(
        peer.frames.map((f) => [f.opcode, f.rsv1]),
        [
          [Opcode.Binary, true],
          [Opcode.Close, false],
        ],
      );
      const codec = clientCodec();
      assert.deepEqual(await inflate(codec, peer.frames[0]!.payload), big);
      codec.cleanup();
    }
    await stopServer(wss);
  });
});

describe('memory and callbacks', () => {
  test('zlib contexts are freed after each message without context takeover, and on close', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { threshold: 0 } });
    wss.on('connection', echo);
    const reset = once<[WebSocket]>(wss, 'connection');
    const { client: a } = await wsClient(port, { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 });
    const [resetSocket] = await reset;
    await roundTrips(a);
    const resetCodec = resetSocket._compression as DeflateCodec;
    assert.deepEqual(resetCodec.contexts, { deflate: false, inflate: false });

    const keep = once<[WebSocket]>(wss, 'connection');
    const { client: b } = await wsClient(port, { threshold: 0 });
    const [keepSocket] = await keep;
    const keepCodec = keepSocket._compression as DeflateCodec;
    assert.deepEqual(keepCodec.contexts, { deflate: false, inflate: false }, 'made lazily');
    await roundTrips(b);
    assert.deepEqual(keepCodec.contexts, { deflate: true, inflate: true });
    const closed = once(keepSocket, 'close');
    b.close();
    await closed;
    assert.deepEqual(keepCodec.contexts, { deflate: false, inflate: false });
    a.close();
    await stopServer(wss);
  });

  test('callbacks of sends still compressing when the socket goes get an error', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const connected = once<[WebSocket]>(wss, 'connection');
    const { client } = await wsClient(port, true);
    const [socket] = await connected;
    const results: Promise<Error | undefined>[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(new Promise((resolve) => socket.send(noise(256 * 1024, i + 1), (error) => resolve(error))));
    }
    results.push(new Promise((resolve) => socket.ping('after', undefined, (error) => resolve(error))));
    socket.terminate();
    for (const error of await Promise.all(results)) assert.ok(error instanceof Error);
    assert.equal(socket.bufferedAmount, 0);
    client.terminate();
    await stopServer(wss);
  });

  test('a malformed Sec-WebSocket-Extensions header is refused with 400 when compression is on', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true });
    const hs = await handshake(port, 'permessage-deflate; =');
    assert.match(hs.status, / 400 /);
    hs.socket.destroy();
    const off = await startServer();
    const ok = await handshake(off.port, 'permessage-deflate; =');
    assert.match(ok.status, / 101 /);
    ok.socket.destroy();
    await stopServer(wss);
    await stopServer(off.wss);
  });
});

test('a message still being compressed when the connection is terminated is failed, and bufferedAmount never goes below 0', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  const client = new Client(`ws://127.0.0.1:${port}`);
  await once(client, 'open');
  assert.match(client.extensions, /permessage-deflate/);
  const sent = new Promise<Error | undefined>((resolve) => client.send(Buffer.alloc(4 << 20, 'wavecast '), (error) => resolve(error)));
  assert.ok(client.bufferedAmount >= 4 << 20, 'the message counts while it is compressed');
  client.terminate();
  await once(client, 'close');
  const error = await sent;
  assert.ok(error instanceof Error, 'the send is failed');
  assert.ok(client.bufferedAmount >= 0, `bufferedAmount after close is ${client.bufferedAmount}`);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});
