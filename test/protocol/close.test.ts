// Close codes and close payloads (protocol/close.ts, RFC 6455 5.5.1 and 7.4): which codes may be sent or received, and
// how a payload is built and read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeClosePayload, isValidWireCloseCode } from '../../src/protocol/close.js';

test('codes that may be sent', () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999]) assert.equal(isValidWireCloseCode(code), true, String(code));
  for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.equal(isValidWireCloseCode(code), false, String(code));
});

test('as in ws: our own close never sends 1005, 1006 or 1015 (TypeError), nor a reason over 123 bytes (RangeError)', () => {
  for (const code of [1005, 1006, 1015])
    assert.throws(() => encodeClosePayload(code), { name: 'TypeError', message: 'First argument must be a valid error code number' });
  assert.doesNotThrow(() => encodeClosePayload(1000, 'x'.repeat(123)));
  assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), {
    name: 'RangeError',
    message: 'The message must not be greater than 123 bytes',
  });
  assert.throws(() => encodeClosePayload(1000, '€'.repeat(42)), RangeError);
});

test('a close payload is the code (big-endian) then the reason; no code sends nothing, a reason alone included', () => {
  assert.deepEqual(encodeClosePayload(4001, 'bye ✓'), Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.from('bye ✓')]));
  assert.deepEqual(encodeClosePayload(1000, Buffer.from('ok')), Buffer.from([0x03, 0xe8, 0x6f, 0x6b]));
  assert.deepEqual(encodeClosePayload(1000, ''), Buffer.from([0x03, 0xe8]));
  assert.deepEqual(encodeClosePayload(), Buffer.alloc(0));
  assert.deepEqual(encodeClosePayload(undefined, 'ignored, as in ws'), Buffer.alloc(0));
});
