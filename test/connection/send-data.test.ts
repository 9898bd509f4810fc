// What send(), ping() and pong() accept, turned into bytes as `ws` turns it (send-data.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteLengthOf, isBlob, toBuffer } from '../../src/connection/send-data.js';

test('toBuffer: a Buffer as it is, views over their own bytes without a copy, an ArrayBuffer whole, arrays of bytes copied', () => {
  const buffer = Buffer.from('abc');
  assert.equal(toBuffer(buffer), buffer);
  const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const view = new Uint16Array(backing.buffer, 2, 2);
  const out = toBuffer(view);
  assert.deepEqual([...out], [3, 4, 5, 6]);
  backing[2] = 9;
  assert.equal(out[0], 9, 'a view is not copied');
  assert.deepEqual([...toBuffer(new DataView(backing.buffer, 4))], [5, 6]);
  assert.deepEqual([...toBuffer(backing.buffer)], [1, 2, 9, 4, 5, 6]);
  assert.deepEqual([...toBuffer([7, 8])], [7, 8]);
});

test('byteLengthOf: UTF-8 bytes of a string, the size of a Blob, the bytes of anything else', () => {
  assert.equal(byteLengthOf('é€'), 5);
  assert.equal(byteLengthOf(new Blob(['12345'])), 5);
  assert.equal(byteLengthOf(new Uint32Array(3)), 12);
});

test('isBlob: Blobs and Files, not objects that only look a little like one', () => {
  assert.equal(isBlob(new Blob(['x'])), true);
  assert.equal(isBlob(new File(['x'], 'x.txt')), true);
  assert.equal(isBlob({ arrayBuffer() {}, type: '', stream() {} }), false);
  assert.equal(isBlob(Buffer.from('x')), false);
  assert.equal(isBlob(null), false);
});
