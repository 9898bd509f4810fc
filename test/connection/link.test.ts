// The connection's side of the protocol machine (link.ts), on a WebSocket over an in-memory socket: the close
// frame leaves at once, the close timer cuts off a peer that never answers and is stopped by one that does,
// and what is sent after the close counts in bufferedAmount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/connection/websocket.js';
import type { ConnectionOptions } from '../../src/connection/options.js';
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
