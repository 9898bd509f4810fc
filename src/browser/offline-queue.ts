// What the client holds while it is offline: a bounded queue with a policy for when it is full.

/**
 * - `drop-oldest`: the oldest queued item is dropped to make room (a live feed: the newest matters);
 * - `drop-newest`: the new item is refused (what was queued first goes out first, nothing reordered);
 * - `error`: the send throws an OfflineQueueFullError (the application decides).
 */
export type QueuePolicy = 'drop-oldest' | 'drop-newest' | 'error';

export class OfflineQueueFullError extends Error {
  readonly code = 'queue_full';
  constructor(readonly limit: number) {
    super(`The offline queue is full (${limit} messages); the message was not queued`);
    this.name = 'OfflineQueueFullError';
  }
}

export class OfflineQueue<T> {
  private _items: T[] = [];

  constructor(
    readonly limit: number,
    readonly policy: QueuePolicy,
  ) {}

  get size(): number {
    return this._items.length;
  }

  /** Queues an item; returns the item dropped to make room (or the item itself when refused), if any. */
  push(item: T): { dropped?: T } {
    if (this.limit <= 0) {
      if (this.policy === 'error') throw new OfflineQueueFullError(this.limit);
      return { dropped: item };
    }
    if (this._items.length < this.limit) {
      this._items.push(item);
      return {};
    }
    if (this.policy === 'error') throw new OfflineQueueFullError(this.limit);
    if (this.policy === 'drop-newest') return { dropped: item };
    const dropped = this._items.shift()!;
    this._items.push(item);
    return { dropped };
  }

  /** Takes every queued item, oldest first. */
  drain(): T[] {
    const items = this._items;
    this._items = [];
    return items;
  }
}
