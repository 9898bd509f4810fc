// What the parser keeps alive while it gathers a message: at most maxPayload bytes of the message, and
// the chunks those bytes lie in only when they are most of the chunk. A peer that puts one small
// fragment in each large read (and fills the rest with pings) must not make it keep whole reads alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownChunk, runParser } from '../../fuzz/parser-oracle.js';
import { encodeSpec } from '../../fuzz/wire.js';

const KEY = [0x11, 0x22, 0x33, 0x44];
const frame = (opcode: number, size: number, fin = false) =>
  encodeSpec({ opcode, fin, rsv: 0, maskKey: KEY, payload: Buffer.alloc(size, 0x61) });

/** `count` reads of 64 KiB, each holding one fragment of `fragment` bytes, the rest filled with 125-byte pings. */
function paddedReads(count: number, fragment: number): Buffer[] {
  const ping = frame(0x9, 125, true);
  const reads: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const parts = [frame(i === 0 ? 0x2 : 0x0, fragment)];
    let length = parts[0]!.length;
    while (length + ping.length <= 65536) {
      parts.push(ping);
      length += ping.length;
    }
    reads.push(ownChunk(Buffer.concat(parts)));
  }
  return reads;
}

test('fragments of 4 KiB, each alone in a 64 KiB read among pings, do not keep the reads alive', () => {
  const run = runParser(paddedReads(100, 4096), { expectMasked: true, maxPayload: 1 << 20 }, false);
  assert.deepEqual(run.violations, []);
  assert.equal(run.maxHeld, 100 * 4096);
  assert.ok(
    run.maxRetained <= 2 * run.maxHeld + 32 * 1024,
    `holds ${run.maxHeld} bytes of the message but keeps ${run.maxRetained} bytes alive`,
  );
});

test('a large message in whole reads is still kept as views of them, not copied', () => {
  const bytes = encodeSpec({ opcode: 0x2, fin: true, rsv: 0, maskKey: KEY, payload: Buffer.alloc(1 << 20, 0x62) });
  const reads: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 65536) reads.push(ownChunk(bytes.subarray(offset, offset + 65536)));
  const run = runParser(reads, { expectMasked: true, maxPayload: 1 << 20 }, false);
  assert.deepEqual(run.violations, []);
  assert.equal(run.outcome, 'open');
  assert.equal(run.maxMessage, 1 << 20);
  // Views: what is kept alive is the reads themselves, about the size of the message.
  assert.ok(run.maxRetained <= run.maxHeld + 65536, `${run.maxRetained} kept alive for ${run.maxHeld}`);
});
