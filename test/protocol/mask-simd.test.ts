// The WebAssembly SIMD mask kernel against the definition of masking (RFC 6455 5.3), and its use by frames and the parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simdMask } from '../../src/protocol/mask-simd.js';
import { Opcode, encodeFrame, mask } from '../../src/protocol/frame.js';
import { parseSplit } from './parser-helpers.js';

function naiveMask(data: Uint8Array, key: number[], phase = 0): Buffer {
  return Buffer.from(data.map((byte, i) => byte ^ key[(i + phase) % 4]!));
}

const KEY = [0x3c, 0xa5, 0x01, 0xfe];

test('Node 20 runs the SIMD kernel (a runtime without it would fall back to the JavaScript loop)', () => {
  assert.notEqual(simdMask, null);
});

test('the SIMD kernel XORs like the definition: lengths around its 64-byte step and 64 KiB block, every phase, in place', () => {
  const backing = Buffer.alloc(3 * 65536 + 300).map((_, i) => (i * 31 + 11) & 0xff);
  for (const length of [128, 129, 191, 192, 193, 1000, 65535, 65536, 65537, 2 * 65536 + 77]) {
    for (let phase = 0; phase < 4; phase++) {
      for (const start of [0, 1, 3]) {
        const source = backing.subarray(start, start + length);
        const expected = naiveMask(source, KEY, phase);
        for (const targetOffset of [0, 2]) {
          const target = Buffer.alloc(length + 4, 0x55);
          mask(source, Buffer.from(KEY), target, targetOffset, phase, length);
          assert.ok(
            target.subarray(targetOffset, targetOffset + length).equals(expected),
            `length ${length} phase ${phase} start ${start}`,
          );
          // Nothing written outside the target range (the kernel XORs past the payload in its own memory only).
          assert.ok(target.subarray(0, targetOffset).every((b) => b === 0x55));
          assert.ok(target.subarray(targetOffset + length).every((b) => b === 0x55));
        }
        const inPlace = Buffer.from(source);
        mask(inPlace, Buffer.from(KEY), inPlace, 0, phase, length);
        assert.ok(inPlace.equals(expected), `in place, length ${length} phase ${phase}`);
      }
    }
  }
});

test('a large masked frame, cut into uneven chunks, parses back to its payload', () => {
  const payload = Buffer.alloc(300_000).map((_, i) => (i * 7) & 0xff);
  const [frame] = encodeFrame(payload, { opcode: Opcode.Binary, fin: true, rsv1: false, maskKey: Buffer.from(KEY) });
  assert.ok(frame !== undefined && frame.length > payload.length);
  // The payload on the wire is masked, not the payload itself.
  assert.ok(!frame.subarray(frame.length - payload.length).equals(payload));
  const events = parseSplit(frame, [1, 10, 4099, 70_001, 3, 65_536, 129], { expectMasked: true, maxPayload: 1 << 20 });
  assert.equal(events.length, 1);
  assert.ok((events[0] as { data: Buffer }).data.equals(payload));
});
