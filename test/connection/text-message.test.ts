// What a `message` listener gets for a text message (text-message.ts): a genuine Buffer, marked as text, so
// that sending it back sends text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTextMessage, toTextMessage } from '../../src/connection/text-message.js';

test('a text message is a Buffer over the same bytes, marked as text; the Buffer it came from is not', () => {
  const data = Buffer.from('hello');
  const message = toTextMessage(data);
  assert.equal(Object.getPrototypeOf(message), Buffer.prototype);
  assert.deepEqual(message, Buffer.from('hello'));
  assert.equal(isTextMessage(message), true);
  assert.equal(isTextMessage(data), false);
  data[0] = 0x6a;
  assert.equal(message.toString(), 'jello', 'no copy');
});

test('nothing else is a text message: copies, slices, strings, null', () => {
  const message = toTextMessage(Buffer.from('hi'));
  assert.equal(isTextMessage(Buffer.from(message)), false);
  assert.equal(isTextMessage(message.subarray(0)), false);
  assert.equal(isTextMessage('hi'), false);
  assert.equal(isTextMessage(null), false);
});
