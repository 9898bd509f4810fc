// Per-connection rate limit: a token bucket refilled by the clock when a message arrives, so it needs
// no timer. A bucket holds up to `burst` tokens and gains `rate` tokens a second; each message takes one.

export interface RateLimit {
  /** Messages a second a connection may keep up (0 turns the limit off). */
  rate: number;
  /** Messages a connection may send at once after a quiet spell (at least 1). */
  burst: number;
}

/** The state of one connection's bucket: plain fields, kept on the connection's relay record. */
export interface Bucket {
  tokens: number;
  /** When the bucket was last topped up (ms, from the limiter's clock). */
  last: number;
}

export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  private readonly _perMs: number;
  private readonly _now: () => number;

  constructor(limit: RateLimit, now: () => number = performance.now.bind(performance)) {
    if (!(limit.rate >= 0) || !Number.isFinite(limit.rate)) throw new RangeError(`Invalid rate limit: ${limit.rate} (expected messages a second, 0 or more)`);
    if (!(limit.burst >= 1) || !Number.isFinite(limit.burst)) throw new RangeError(`Invalid burst: ${limit.burst} (expected 1 or more messages)`);
    this.rate = limit.rate;
    this.burst = limit.burst;
    this._perMs = limit.rate / 1000;
    this._now = now;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** A full bucket for a new connection. */
  bucket(): Bucket {
    return { tokens: this.burst, last: this._now() };
  }

  /** Takes a token for a message that just arrived; false when the bucket is empty (over the limit). */
  take(bucket: Bucket): boolean {
    if (this._perMs === 0) return true;
    const now = this._now();
    const tokens = Math.min(this.burst, bucket.tokens + (now - bucket.last) * this._perMs);
    bucket.last = now;
    if (tokens < 1) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - 1;
    return true;
  }

  /** The close reason for a connection over the limit (fits the 123 bytes a close reason may have). */
  reason(): string {
    return `Rate limit: over ${formatRate(this.rate)} messages a second (burst ${this.burst})`;
  }
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(2).replace(/0+$/, '');
}
