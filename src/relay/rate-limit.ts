// Rate limits: a token bucket refilled by the clock when a message arrives, so it needs no timer per
// connection. A bucket holds up to `burst` tokens and gains `rate` tokens a second; each message takes one.
//
// The limit counts wall-clock time, not the relay's processing time. While the event loop is blocked
// (a long garbage collection, a busy handler, the machine swapping), clients keep sending and their
// messages wait in the kernel; once the loop runs again, they are all read at once. A bucket capped at
// `burst` would then count seconds of well-paced messages as one burst and close clients that kept to
// the rate. So the loop's stalls are measured (LoopClock: one timer for the whole relay), and the tokens
// a stall's length earns are usable at once after it, beyond `burst`, for a short while: over any span
// of time a client still gets at most `burst` + `rate` × that span.

export interface RateLimit {
  /** Messages a second a connection may keep up (0 turns the limit off). */
  rate: number;
  /** Messages a connection may send at once after a quiet spell (at least 1). */
  burst: number;
}

/** The state of one bucket: plain fields, kept on the connection's relay record. */
export interface Bucket {
  tokens: number;
  /** When the bucket was last topped up (ms, from the clock). */
  last: number;
  /** The clock's stalled time when the bucket was last topped up. */
  seen: number;
  /** Until when tokens above `burst` (earned during a stall) are kept (ms). */
  until: number;
}

/** Monotonic time, and how long the event loop has been found blocked in all so far. */
export interface Clock {
  /** ms, monotonic. */
  now(): number;
  /** ms the event loop was blocked beyond its usual lateness, in all since the clock started; never decreases. */
  stalled(): number;
}

/** How long after a stall the tokens it earned stay usable (the backlog is read within this). */
const STALL_GRACE_MS = 1000;

/**
 * Measures the event loop's stalls with one unref'd timer: a tick that comes `interval` + `slack` ms or
 * more after the previous one found the loop blocked for the difference. A stall still under way (no tick
 * yet) counts too, so messages read right after a stall, before the timer's turn, get its credit.
 */
export class LoopClock implements Clock {
  private _detected = 0;
  private _lastTick: number;
  private _timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly _interval = 250,
    private readonly _slack = 250,
  ) {
    this._lastTick = performance.now();
  }

  now(): number {
    return performance.now();
  }

  stalled(): number {
    return this._detected + this._late(performance.now());
  }

  start(): void {
    if (this._timer !== null) return;
    this._lastTick = performance.now();
    this._timer = setInterval(() => {
      const now = performance.now();
      this._detected += this._late(now);
      this._lastTick = now;
    }, this._interval);
    this._timer.unref();
  }

  stop(): void {
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
  }

  private _late(now: number): number {
    if (this._timer === null) return 0;
    return Math.max(0, now - this._lastTick - this._interval - this._slack);
  }
}

/** A clock for a limiter whose stalls are not measured (tests, a library user's own limiter). */
export function plainClock(now: () => number = performance.now.bind(performance)): Clock {
  return { now, stalled: () => 0 };
}

export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  private readonly _perMs: number;
  private readonly _clock: Clock;

  constructor(limit: RateLimit, clock: Clock | (() => number) = plainClock()) {
    if (!(limit.rate >= 0) || !Number.isFinite(limit.rate))
      throw new RangeError(`Invalid rate limit: ${limit.rate} (expected messages a second, 0 or more)`);
    if (!(limit.burst >= 1) || !Number.isFinite(limit.burst))
      throw new RangeError(`Invalid burst: ${limit.burst} (expected 1 or more messages)`);
    this.rate = limit.rate;
    this.burst = limit.burst;
    this._perMs = limit.rate / 1000;
    this._clock = typeof clock === 'function' ? plainClock(clock) : clock;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** A full bucket for a new connection. */
  bucket(): Bucket {
    return { tokens: this.burst, last: this._clock.now(), seen: this._clock.stalled(), until: 0 };
  }

  /** Takes a token for a message that just arrived; false when the bucket is empty (over the limit). */
  take(bucket: Bucket): boolean {
    if (this._perMs === 0) return true;
    const tokens = this._refill(bucket);
    if (tokens < 1) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - 1;
    return true;
  }

  /** Seconds until a bucket has a token again (0: it has one now). Does not take it. */
  wait(bucket: Bucket): number {
    if (this._perMs === 0) return 0;
    const tokens = this._refill(bucket);
    bucket.tokens = tokens;
    return tokens >= 1 ? 0 : (1 - tokens) / this._perMs / 1000;
  }

  /** Whether a bucket is full (it can be forgotten: a new one would be the same). */
  full(bucket: Bucket): boolean {
    if (this._perMs === 0) return true;
    bucket.tokens = this._refill(bucket);
    return bucket.tokens >= this.burst;
  }

  /** The tokens in a bucket now; its clock fields are brought up to date, so the caller stores the tokens. */
  private _refill(bucket: Bucket): number {
    const now = this._clock.now();
    const stalled = this._clock.stalled();
    // Tokens a stall earned beyond the burst are kept while its backlog is read.
    let cap = now <= bucket.until ? Math.max(this.burst, bucket.tokens) : this.burst;
    if (stalled > bucket.seen) {
      // The loop was blocked since this bucket was last looked at: what the client sent meanwhile is
      // being read only now, and may use the tokens the stall's time earned, beyond the burst.
      cap += (stalled - bucket.seen) * this._perMs;
      bucket.until = now + STALL_GRACE_MS;
    }
    bucket.seen = stalled;
    const tokens = Math.min(cap, bucket.tokens + (now - bucket.last) * this._perMs);
    bucket.last = now;
    return tokens;
  }

  /** The close reason for a connection over the limit (fits the 123 bytes a close reason may have). */
  reason(): string {
    return `Rate limit: over ${formatRate(this.rate)} messages a second (burst ${this.burst})`;
  }
}

/**
 * A rate limit per client address (HTTP publishes): one bucket per address, at most `maxAddresses` of
 * them (the least recently used goes first; a full bucket is the same as none, so forgetting it gives
 * nothing away unless the map is full of addresses over their limit at once).
 */
export class AddressRateLimiter {
  private readonly _buckets = new Map<string, Bucket>();

  constructor(
    readonly limiter: RateLimiter,
    private readonly _maxAddresses = 65_536,
  ) {}

  /** Takes a token for `address`: 0 if allowed, else the seconds to wait before the next one is (> 0). */
  take(address: string): number {
    const limiter = this.limiter;
    if (!limiter.enabled) return 0;
    let bucket = this._buckets.get(address);
    if (bucket === undefined) {
      bucket = limiter.bucket();
      if (this._buckets.size >= this._maxAddresses) this._evict();
    } else {
      this._buckets.delete(address);
    }
    // Most recently used last.
    this._buckets.set(address, bucket);
    if (limiter.take(bucket)) return 0;
    return Math.max(limiter.wait(bucket), 0.001);
  }

  /** Addresses with a bucket (tests, metrics). */
  get size(): number {
    return this._buckets.size;
  }

  /** Forgets full buckets from the least recently used end, or at least the least recently used one. */
  private _evict(): void {
    let checked = 0;
    for (const [address, bucket] of this._buckets) {
      if (checked === 0 || this.limiter.full(bucket)) this._buckets.delete(address);
      if (++checked >= 64) break;
    }
  }
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(2).replace(/0+$/, '');
}
