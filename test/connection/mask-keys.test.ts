// Masking keys for client frames (mask-keys.ts): four random bytes each, drawn from a pool in batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskKey } from '../../src/connection/mask-keys.js';

test('every key is 4 bytes, and keys across several pool refills are not repeated', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const key = maskKey();
    assert.equal(key.length, 4);
    seen.add(key.toString('hex'));
  }
  // 5,000 draws of 32 random bits: a repeat has a chance of about 3 in 1,000; more than two is a broken source.
  assert.ok(seen.size >= 4998, `${5000 - seen.size} repeated keys`);
});
