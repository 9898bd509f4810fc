// The relay's token-bucket rate limits (relay/rate-limit.ts): bursts, refill by wall-clock time, bad settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressRateLimiter, LoopClock, RateLimiter } from '../../src/relay/rate-limit.js';

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

/** A clock whose stalls the test makes: `stall(ms)` moves time on as a blocked event loop would. */
function stallingClock() {
  let now = 1_000;
  let stalled = 0;
  return {
    clock: { now: () => now, stalled: () => stalled },
    advance: (ms: number) => (now += ms),
    stall: (ms: number) => {
      now += ms;
      stalled += ms;
    },
  };
}

test('a stall of the event loop does not punish clients that kept to the rate; a flood is still cut at the wall-clock bound', () => {
  // The case: rate 20, burst 40; 10 clients sending 12 messages a second; a 13 s stall, after which
  // each client's 156 messages sent meanwhile are read at once.
  const { clock, advance, stall } = stallingClock();
  const limit = new RateLimiter({ rate: 20, burst: 40 }, clock);
  const steady = Array.from({ length: 10 }, () => limit.bucket());
  const unaware = new RateLimiter({ rate: 20, burst: 40 }, () => clock.now());
  const before = unaware.bucket();
  const paced = (rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      advance(1000 / 12);
      for (const bucket of steady) assert.equal(limit.take(bucket), true);
      assert.equal(unaware.take(before), true);
    }
  };
  paced(60);
  stall(13_000);
  for (const bucket of steady) {
    for (let i = 0; i < 156; i++) assert.equal(limit.take(bucket), true, `message ${i + 1} of the backlog`);
  }
  // A limiter that does not know of the stall refuses the backlog past its burst: what the relay did.
  let accepted = 0;
  while (accepted < 156 && unaware.take(before)) accepted++;
  assert.equal(accepted, 40);
  paced(60);
  // A client that sent 100 a second through the stall gets at most burst + rate × 13 s = 300 of its 1,300.
  const flood = limit.bucket();
  let flooded = 0;
  stall(13_000);
  while (flooded < 1300 && limit.take(flood)) flooded++;
  assert.equal(flooded, 300);
});

test("a stall measured in two parts (the clock's timer fires while the backlog is read) keeps the tokens of the first", () => {
  // Seen with SIGSTOP: the backlog's first messages got the stall's credit, then the clock's timer added a
  // few ms of stall more, and the next message's top-up cut the bucket back to the burst.
  const { clock, advance, stall } = stallingClock();
  const limit = new RateLimiter({ rate: 20, burst: 40 }, clock);
  const bucket = limit.bucket();
  stall(13_000);
  for (let i = 0; i < 100; i++) assert.equal(limit.take(bucket), true);
  stall(5);
  advance(1);
  for (let i = 0; i < 150; i++) assert.equal(limit.take(bucket), true, `message ${101 + i} of the backlog`);
});

test('tokens a stall earned are kept only while its backlog is read, not for a later burst', () => {
  const { clock, advance, stall } = stallingClock();
  const limit = new RateLimiter({ rate: 10, burst: 5 }, clock);
  const bucket = limit.bucket();
  stall(10_000);
  assert.equal(limit.take(bucket), true);
  advance(1_500);
  let taken = 0;
  while (limit.take(bucket)) taken++;
  assert.equal(taken, 5, 'back to the burst');
});

test('LoopClock measures a blocked event loop; wait() says when the next token comes', async () => {
  const loop = new LoopClock(20, 20);
  loop.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = loop.stalled();
    const start = performance.now();
    while (performance.now() - start < 400) {
      // a deliberate busy loop
    }
    // The timer could not run for 400 ms: at least 400 - 20 - 20 of it is a stall, seen even before it fires.
    assert.ok(loop.stalled() - before >= 360, `measured ${loop.stalled() - before} ms`);
  } finally {
    loop.stop();
  }
  const { limit, advance } = limiter(2, 1);
  const bucket = limit.bucket();
  assert.equal(limit.wait(bucket), 0);
  limit.take(bucket);
  assert.equal(limit.wait(bucket), 0.5);
  advance(250);
  assert.equal(limit.wait(bucket), 0.25);
});

test('per-address limits: each address has its own bucket, and the table of addresses is bounded', () => {
  const { limit, advance } = limiter(1, 2);
  const addresses = new AddressRateLimiter(limit, 100);
  assert.deepEqual([addresses.take('10.0.0.1'), addresses.take('10.0.0.1')], [0, 0]);
  assert.equal(addresses.take('10.0.0.1'), 1, 'wait a second');
  assert.equal(addresses.take('10.0.0.2'), 0, 'another address is not affected');
  advance(1000);
  assert.equal(addresses.take('10.0.0.1'), 0);
  for (let i = 0; i < 10_000; i++) addresses.take(`192.0.2.${i}`);
  assert.ok(addresses.size <= 100, `${addresses.size} buckets kept`);
  // Looking at a bucket to forget it does not lose the time it was refilling for.
  const bucket = limit.bucket();
  limit.take(bucket);
  limit.take(bucket);
  advance(500);
  assert.equal(limit.full(bucket), false);
  advance(500);
  assert.equal(limit.wait(bucket), 0, 'one token back after a second');
});
