import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/relay/rate-limit.js';

/** A limiter on a clock the test moves by hand. */
function limiter(rate: number, burst: number) {
  let now = 1_000;
  const limit = new RateLimiter({ rate, burst }, () => now);
  return { limit, advance: (ms: number) => (now += ms) };
}

test('a burst is allowed at once, then one message per 1/rate seconds', () => {
  const { limit, advance } = limiter(2, 3);
  const bucket = limit.bucket();
  assert.deepEqual([limit.take(bucket), limit.take(bucket), limit.take(bucket), limit.take(bucket)], [true, true, true, false]);
  advance(499);
  assert.equal(limit.take(bucket), false, 'not yet a whole token back');
  advance(1);
  assert.equal(limit.take(bucket), true);
  assert.equal(limit.take(bucket), false);
});

test('a quiet spell refills the bucket up to the burst, never beyond', () => {
  const { limit, advance } = limiter(10, 5);
  const bucket = limit.bucket();
  for (let i = 0; i < 5; i++) assert.equal(limit.take(bucket), true);
  advance(60_000);
  let taken = 0;
  while (limit.take(bucket)) taken++;
  assert.equal(taken, 5);
});

test('rate 0 turns the limit off; bad settings throw', () => {
  const { limit } = limiter(0, 1);
  const bucket = limit.bucket();
  for (let i = 0; i < 100; i++) assert.equal(limit.take(bucket), true);
  assert.equal(limit.enabled, false);
  assert.throws(() => new RateLimiter({ rate: -1, burst: 1 }), /Invalid rate limit/);
  assert.throws(() => new RateLimiter({ rate: 1, burst: 0 }), /Invalid burst/);
});

test('the close reason names the limit and fits in a close frame', () => {
  const { limit } = limiter(2.5, 10);
  assert.equal(limit.reason(), 'Rate limit: over 2.5 messages a second (burst 10)');
  assert.ok(Buffer.byteLength(new RateLimiter({ rate: 123456789, burst: 987654321 }).reason()) <= 123);
});
