// The incremental UTF-8 validator (protocol/utf8.ts) for fragmented text, against buffer.isUtf8 and at every split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { Utf8Validator } from '../../src/protocol/utf8.js';

function validateInPieces(bytes: Buffer, cuts: number[]): boolean {
  const validator = new Utf8Validator();
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!validator.feed(bytes.subarray(start, cut))) return false;
    start = cut;
  }
  return validator.complete;
}

test('agrees with buffer.isUtf8 on random byte strings cut at random places', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  const alphabet = [
    0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3,
    0xf4, 0xf5, 0xff,
  ];
  for (let round = 0; round < 20000; round++) {
    const bytes = Buffer.from(Array.from({ length: 1 + (random() % 12) }, () => alphabet[random() % alphabet.length]!));
    const cuts = [...new Set(Array.from({ length: random() % 4 }, () => random() % bytes.length))].sort((a, b) => a - b);
    assert.equal(validateInPieces(bytes, cuts), isUtf8(bytes), `bytes ${bytes.toString('hex')} cut at ${cuts}`);
  }
});

test('valid text of every width, split at every byte', () => {
  const bytes = Buffer.from('a\u00e9\u0800\uffff\u{10000}\u{10ffff}z');
  for (let cut = 0; cut <= bytes.length; cut++) assert.equal(validateInPieces(bytes, [cut]), true);
});

test('fails on the first byte that cannot lead to valid text', () => {
  const validator = new Utf8Validator();
  assert.equal(validator.feed(Buffer.from([0x61, 0xf4])), true);
  assert.equal(validator.complete, false);
  assert.equal(validator.feed(Buffer.from([0x90])), false); // F4 90 would be above U+10FFFF
});
