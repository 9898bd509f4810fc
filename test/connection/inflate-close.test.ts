// A compressed message followed by the end of the connection in the same read: the message is being
// inflated (asynchronously) when the peer's close frame, or the end of the stream, is read. Nothing the
// peer sent before it closed may be lost: 'message' comes first, then 'close'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { WebSocket } from '../../src/connection/websocket.js';
import { createDeflateCompression } from '../../src/connection/deflate-codec.js';
import { resolveDeflateOptions, type DeflateParams } from '../../src/protocol/deflate.js';
import { encodeFrame } from '../../src/protocol/frame.js';

class MemorySocket extends Duplex {
  /** What the connection wrote, in order. */
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
}

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
