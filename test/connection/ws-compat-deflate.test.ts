// With permessage-deflate, in the order `ws` keeps: a compressed message is handed out before anything the
// peer sent after it (its close frame included, so that a reply to the message still goes out), terminate()
// still hands out what had arrived, and the callbacks of sends still being compressed run before 'close'.
// Each scenario runs with `ws` and with Wavecast (test/helpers/ws-compat.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { rawFrame } from '../protocol/parser-helpers.js';
import { connected, listening, overDuplex, sameAsWs, shutDown, trace } from '../helpers/ws-compat.js';

/** A masked, compressed text frame (RSV1), as a client sends one. */
function compressedFrame(text: string): Buffer {
  const deflated = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  return rawFrame({ opcode: 0x1, rsv1: true, payload: deflated.subarray(0, deflated.length - 4) });
}

/** The opcodes of the frames a server wrote (after its 101 response), in order. */
function writtenFrames(written: Buffer[]): string[] {
  let all = Buffer.concat(written);
  all = all.subarray(all.indexOf('\r\n\r\n') + 4);
  const frames: string[] = [];
  while (all.length >= 2) {
    let length = all[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      length = all.readUInt16BE(2);
      offset = 4;
    }
    const payload = all.subarray(offset, offset + length);
    const opcode = all[0]! & 0x0f;
    frames.push(
      opcode === 0x8 ? `close ${payload.readUInt16BE(0)}` : `${opcode === 0x1 ? 'text' : `opcode ${opcode}`} ${payload.toString()}`,
    );
    all = all.subarray(offset + length);
  }
  return frames;
}

const DEFLATE = { perMessageDeflate: true };
const OFFER = { 'sec-websocket-extensions': 'permessage-deflate' };

test('a compressed message then the close frame in one read: the message comes first, and a reply to it is sent before the close is answered', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { ws, feed, written } = await overDuplex(impl, DEFLATE, OFFER);
    const events = trace(ws);
    ws.on('message', (data: Buffer) => ws.send(`reply to ${data}`, { compress: false }));
    feed(Buffer.concat([compressedFrame('hello'), rawFrame({ opcode: 0x8, payload: [0x03, 0xe8] })]));
    await new Promise((resolve) => ws.once('close', resolve));
    return { events: await events, wrote: writtenFrames(written) };
  });
  assert.deepEqual(seen, { events: ['message text hello', 'close 1000'], wrote: ['text reply to hello', 'close 1000'] });
});

test('a ping and a message after a compressed message wait for it; so does a protocol error', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { ws, feed } = await overDuplex(impl, DEFLATE, OFFER);
    const events = trace(ws, 5_000, ['ping']);
    feed(
      Buffer.concat([
        compressedFrame('first'),
        rawFrame({ opcode: 0x9, payload: 'p' }),
        rawFrame({ opcode: 0x1, payload: 'second' }),
        rawFrame({ opcode: 0x1, payload: 'x', maskKey: null }),
      ]),
    );
    const result = await events;
    return result;
  });
  assert.deepEqual(seen, [
    'message text first',
    'ping "p"',
    'message text second',
    'error RangeError WS_ERR_EXPECTED_MASK: Invalid WebSocket frame: MASK must be set',
    'close 1006',
  ]);
});

test('terminate() while a message is being inflated: it is still handed out, then close 1006', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { ws, feed } = await overDuplex(impl, DEFLATE, OFFER);
    const events = trace(ws);
    feed(compressedFrame('already here'));
    ws.terminate();
    return events;
  });
  assert.deepEqual(seen, ['message text already here', 'close 1006']);
});

test('terminate() while sends are being compressed: their callbacks get an error before close', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl, DEFLATE);
    const { client } = await connected(impl, wss, url);
    const order: string[] = [];
    const big = 'compress me '.repeat(2000);
    client.send(big, (error) => order.push(`first: ${error?.message}`));
    client.send(big, (error) => order.push(`second: ${error?.message}`));
    client.terminate();
    await new Promise<void>((resolve) =>
      client.once('close', (code: number) => {
        order.push(`close ${code}`);
        resolve();
      }),
    );
    await shutDown(wss);
    return order;
  });
  assert.deepEqual(seen, [
    'first: The socket was closed while data was being compressed',
    'second: The socket was closed while data was being compressed',
    'close 1006',
  ]);
});

test('extensions names the extension in use, on both ends', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl, DEFLATE);
    const { client, peer } = await connected(impl, wss, url);
    const result = { client: client.extensions, server: peer.extensions };
    await shutDown(wss);
    return result;
  });
  assert.deepEqual(seen, { client: 'permessage-deflate', server: 'permessage-deflate' });
});
