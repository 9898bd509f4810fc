// Paces updates per key (presence per channel): the first `burst` updates of a key in an interval go out
// at once; later ones in the same interval are held, and the key is flushed once at the next tick, where
// the caller sends one summary of everything held. So churn of any rate costs at most burst + 1 updates
// per key per interval. One timer for all keys, running only while some key has been active lately.

export interface UpdatePacerOptions<K> {
  /** Updates of one key that go out at once per interval (0: every update is held for the summary). */
  burst: number;
  /** ms */
  interval: number;
  /** Sends the summary of a key's held updates. */
  flush(key: K): void;
  now?: () => number;
}

interface KeyState {
  /** When the key's current interval began. */
  start: number;
  /** Updates sent at once in it. */
  sent: number;
  /** Whether updates are held for the next flush. */
  held: boolean;
}

export class UpdatePacer<K> {
  private readonly _keys = new Map<K, KeyState>();
  private _timer: NodeJS.Timeout | null = null;
  private readonly _now: () => number;

  constructor(private readonly _options: UpdatePacerOptions<K>) {
    this._now = _options.now ?? (() => performance.now());
  }

  /** An update of `key`: true if it may be sent now, false if it is held for the key's next flush. */
  offer(key: K): boolean {
    const now = this._now();
    let state = this._keys.get(key);
    if (state === undefined) {
      state = { start: now, sent: 0, held: false };
      this._keys.set(key, state);
      this._schedule();
    } else if (!state.held && now - state.start >= this._options.interval) {
      state.start = now;
      state.sent = 0;
    }
    if (!state.held && state.sent < this._options.burst) {
      state.sent++;
      return true;
    }
    state.held = true;
    return false;
  }

  /** Whether `key` has updates held for its next flush. */
  holds(key: K): boolean {
    return this._keys.get(key)?.held === true;
  }

  /** Forgets a key (its channel is gone): nothing held for it is flushed. */
  forget(key: K): void {
    this._keys.delete(key);
  }

  /** Keys tracked now (tests: the pacer's own state is bounded by the keys recently active). */
  get size(): number {
    return this._keys.size;
  }

  /** Stops the timer and forgets every key (what is held is not flushed). */
  stop(): void {
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
    this._keys.clear();
  }

  /** Runs a tick now (tests with a clock of their own). */
  tick(): void {
    const now = this._now();
    for (const [key, state] of this._keys) {
      if (state.held) {
        // The summary counts as the first update of a new interval.
        state.held = false;
        state.start = now;
        state.sent = 1;
        this._options.flush(key);
      } else if (now - state.start >= this._options.interval) {
        this._keys.delete(key);
      }
    }
    if (this._keys.size === 0 && this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _schedule(): void {
    if (this._timer !== null) return;
    this._timer = setInterval(() => this.tick(), this._options.interval);
    this._timer.unref();
  }
}
