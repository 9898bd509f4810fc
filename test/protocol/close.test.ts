import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeClosePayload, isValidWireCloseCode, parseClosePayload } from '../../src/protocol/close.js';

test('codes that may be sent', () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999]) assert.equal(isValidWireCloseCode(code), true, String(code));
  for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.equal(isValidWireCloseCode(code), false, String(code));
});

test('our own close never sends 1005, 1006 or 1015', () => {
  for (const code of [1005, 1006, 1015]) assert.throws(() => encodeClosePayload(code), TypeError);
});

test('a reason over 123 bytes is refused', () => {
  assert.doesNotThrow(() => encodeClosePayload(1000, 'x'.repeat(123)));
  assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), RangeError);
  assert.throws(() => encodeClosePayload(1000, '€'.repeat(42)), RangeError);
});

test('encode then parse gives back the code and reason', () => {
  const parsed = parseClosePayload(encodeClosePayload(4001, 'bye ✓'));
  assert.ok(parsed.ok);
  assert.equal(parsed.code, 4001);
  assert.equal(parsed.reason.toString(), 'bye ✓');
  assert.deepEqual(encodeClosePayload(), Buffer.alloc(0));
});
