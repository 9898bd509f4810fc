// A raw TCP client sends each kind of malformed frame: the server answers with the right close code,
// reports 1006 itself (it received no close frame: RFC 6455 7.1.5, as `ws` does), emits 'error' only to a
// listener, never crashes, and keeps serving its other clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WS from 'ws';
import { WebSocketServer, type WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';
import { clientFrame, rawConnect } from './raw-client.js';

async function startEcho(options: { maxPayload?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  const serverErrors: Error[] = [];
  const closes: number[] = [];
  wss.on('connection', (socket: WebSocket) => {
    socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
    socket.on('close', (code: number) => closes.push(code));
  });
  const port = (wss.address() as { port: number }).port;
  return { wss, port, serverErrors, closes };
}

const cases: Array<[string, Buffer, number]> = [
  ['a reserved opcode', clientFrame(0x3, 'x'), 1002],
  ['a reserved control opcode', clientFrame(0xb), 1002],
  ['RSV1 with no extension', clientFrame(0x1, 'x', { rsv: 4 }), 1002],
  ['RSV2', clientFrame(0x1, 'x', { rsv: 2 }), 1002],
  ['an unmasked frame', clientFrame(0x1, 'x', { mask: false }), 1002],
  ['a fragmented ping', clientFrame(0x9, 'x', { fin: false }), 1002],
  ['a ping over 125 bytes', clientFrame(0x9, Buffer.alloc(126)), 1002],
  ['a continuation with no message', clientFrame(0x0, 'x'), 1002],
  ['a new message inside a fragmented one', Buffer.concat([clientFrame(0x1, 'a', { fin: false }), clientFrame(0x2, 'b')]), 1002],
  [
    'invalid UTF-8',
    clientFrame(0x1, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80])),
    1007,
  ],
  [
    'invalid UTF-8 in a fragment',
    Buffer.concat([clientFrame(0x1, 'ok', { fin: false }), clientFrame(0x0, Buffer.from([0xc0, 0x80]), { fin: false })]),
    1007,
  ],
  ['a close frame with a 1-byte payload', clientFrame(0x8, Buffer.from([1])), 1002],
  ['a close frame with code 1005', clientFrame(0x8, Buffer.from([0x03, 0xed])), 1002],
  ['a close frame with code 999', clientFrame(0x8, Buffer.from([0x03, 0xe7])), 1002],
  ['a close reason that is not UTF-8', clientFrame(0x8, Buffer.from([0x03, 0xe8, 0xff])), 1007],
  ['a message over maxPayload', clientFrame(0x2, Buffer.alloc(2000)), 1009],
];

test('each malformed frame gets its close code and the server keeps serving', async () => {
  const { wss, port, closes } = await startEcho({ maxPayload: 1000 });
  const bystander = new WS(`ws://127.0.0.1:${port}`);
  await once(bystander, 'open');
  for (const [name, bytes, expected] of cases) {
    const raw = await rawConnect(port);
    raw.socket.write(bytes);
    assert.equal(await raw.closeCode(), expected, name);
    await raw.ended;
    // The bystander still gets its echo.
    bystander.send(name);
    const [echo] = await once<[Buffer]>(bystander, 'message');
    assert.equal(echo.toString(), name);
  }
  assert.deepEqual(
    closes,
    cases.map(() => 1006),
    'the side that failed the connection received no close frame: 1006',
  );
  bystander.close();
  await once(bystander, 'close');
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test("a socket's 'error' event is emitted when someone listens for it", async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const errorSeen = new Promise<Error & { closeCode?: number; code?: string }>((resolve) => {
    wss.on('connection', (socket: WebSocket) => socket.on('error', resolve));
  });
  const raw = await rawConnect((wss.address() as { port: number }).port);
  raw.socket.write(clientFrame(0x1, 'x', { mask: false }));
  const error = await errorSeen;
  assert.equal(error.closeCode, 1002);
  assert.equal(error.code, 'WS_ERR_EXPECTED_MASK');
  assert.equal(error.message, 'Invalid WebSocket frame: MASK must be set');
  assert.ok(error instanceof RangeError, 'a RangeError, as in ws');
  assert.equal(await raw.closeCode(), 1002);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('a message larger than maxPayload is refused before its payload is buffered', async () => {
  const { wss, port } = await startEcho({ maxPayload: 1024 });
  const raw = await rawConnect(port);
  // Only the header of a 1 GiB frame: the server must answer without waiting for the payload.
  raw.socket.write(Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]));
  assert.equal(await raw.closeCode(), 1009);
  await raw.ended;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('a peer that never answers our close is cut off after closeTimeout, reported as 1006', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', closeTimeout: 200 });
  await once(wss, 'listening');
  const closed = new Promise<number>((resolve) => {
    wss.on('connection', (socket: WebSocket) => {
      socket.on('close', (code: number) => resolve(code));
      socket.close(1000, 'bye');
    });
  });
  const raw = await rawConnect((wss.address() as { port: number }).port);
  assert.equal(await raw.closeCode(), 1000);
  assert.equal(await closed, 1006);
  await raw.ended;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});
