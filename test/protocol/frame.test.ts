// Frame headers and masking (protocol/frame.ts): encoding round-trips through the parser, zero-copy payloads, the mask
// XOR at every alignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COPY_THRESHOLD, Opcode, encodeFrame, mask, maskWord } from '../../src/protocol/frame.js';
import { parseAll } from './parser-helpers.js';

function naiveMask(data: Uint8Array, key: number[], phase = 0): Buffer {
  return Buffer.from(data.map((byte, i) => byte ^ key[(i + phase) % 4]!));
}

test('encode then parse is the identity for every length encoding, masked and not', () => {
  for (const size of [0, 1, 125, 126, 65535, 65536, COPY_THRESHOLD + 1]) {
    const payload = Buffer.alloc(size).map((_, i) => (i * 31) & 0xff);
    for (const masked of [true, false]) {
      const frames = encodeFrame(payload, {
        opcode: Opcode.Binary,
        fin: true,
        rsv1: false,
        maskKey: masked ? Buffer.from([1, 2, 3, 4]) : null,
      });
      const events = parseAll(Buffer.concat(frames), { expectMasked: masked });
      assert.equal(events.length, 1);
      assert.deepEqual((events[0] as { data: Buffer }).data, Buffer.from(payload), `size ${size} masked ${masked}`);
    }
  }
});

test('a large unmasked payload is written as a second buffer, not copied', () => {
  const payload = Buffer.alloc(COPY_THRESHOLD + 1);
  const frames = encodeFrame(payload, { opcode: Opcode.Binary, fin: true, rsv1: false, maskKey: null });
  assert.equal(frames.length, 2);
  assert.equal(frames[1], payload);
});

test('the mask XOR matches the byte-by-byte definition at every alignment, offset and phase', () => {
  const key = [0xde, 0xad, 0xbe, 0xef];
  const keyBuf = Buffer.from(key);
  const backing = Buffer.alloc(600).map((_, i) => (i * 13 + 7) & 0xff);
  for (let start = 0; start < 8; start++) {
    for (const length of [0, 1, 3, 4, 63, 64, 65, 200, 513]) {
      for (let phase = 0; phase < 4; phase++) {
        const source = backing.subarray(start, start + length);
        const target = Buffer.alloc(length + 8);
        for (let targetOffset = 0; targetOffset < 4; targetOffset++) {
          mask(source, keyBuf, target, targetOffset, phase, length);
          assert.deepEqual(target.subarray(targetOffset, targetOffset + length), naiveMask(source, key, phase));
        }
        // In place, with the key as the number a parser keeps.
        const copy = Buffer.from(source);
        maskWord(copy, keyBuf.readUInt32BE(0) | 0, copy, 0, phase, length);
        assert.deepEqual(copy, naiveMask(source, key, phase));
      }
    }
  }
});
