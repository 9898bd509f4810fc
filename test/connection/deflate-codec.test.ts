// deflateMessage(): one message compressed for many peers without context takeover. It must be the very
// bytes such a peer's own codec would send, and wait for the process-wide limiter like the codecs do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, inflateRawSync } from 'node:zlib';
import { createDeflateCompression, deflateMessage, zlibActivity, type DeflateCodec } from '../../src/connection/deflate-codec.js';
import { resolveDeflateOptions } from '../../src/protocol/deflate.js';
import { noise } from '../helpers/deflate.js';

function run(fn: (cb: (error: Error | null, result?: Buffer) => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => fn((error, result) => (error ? reject(error) : resolve(result!))));
}

function noContextCodec(windowBits: number): DeflateCodec {
  const options = resolveDeflateOptions({ serverNoContextTakeover: true })!;
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: false,
    serverMaxWindowBits: windowBits,
    clientMaxWindowBits: 15,
  };
  return createDeflateCompression(params, options, { isServer: true, maxPayload: 0 });
}

const once = (data: Buffer, windowBits = 15, concurrencyLimit = 10) =>
  run((cb) => deflateMessage(data, { windowBits, zlibOptions: {}, concurrencyLimit }, cb));

test('the result is what a codec without context takeover sends for the same message, whatever it sent before', async () => {
  const messages = [
    Buffer.from('{"type":"chat","text":"hello hello hello"} '.repeat(50)),
    Buffer.from('{"type":"chat","text":"hello hello hello"} '.repeat(50)),
  ];
  for (const windowBits of [15, 10, 8]) {
    const codec = noContextCodec(windowBits);
    assert.equal(codec.deflateNoContextTakeover, true);
    assert.equal(codec.deflateWindowBits, windowBits);
    for (const message of messages) {
      const own = await run((cb) => codec.compress(message, true, cb));
      const shared = await once(message, windowBits);
      assert.ok(shared.equals(own), `window ${windowBits}`);
      const inflated = inflateRawSync(Buffer.concat([shared, Buffer.from([0, 0, 0xff, 0xff])]), {
        windowBits: Math.max(windowBits, 9),
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      assert.ok(inflated.equals(message));
    }
    codec.cleanup();
  }
});

test('an empty message compresses to the single byte 0x00', async () => {
  assert.deepEqual([...(await once(Buffer.alloc(0)))], [0x00]);
});

test('jobs wait for the process-wide limiter', async () => {
  const done = Array.from({ length: 4 }, (_, i) => once(noise(64 * 1024, i + 1), 15, 1));
  assert.deepEqual(zlibActivity(), { running: 1, waiting: 3 });
  await Promise.all(done);
  assert.deepEqual(zlibActivity(), { running: 0, waiting: 0 });
});
