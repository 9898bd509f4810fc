// Channel history: every message published on a channel gets the next sequence number of that channel
// and is kept for a while, so a client that comes back can be sent exactly what it missed, or be told
// which range is gone. The relay talks to a store through HistoryStore only; MemoryHistory is the default
// (bounded by count, age and bytes per channel). A shared store (Redis Streams, NATS JetStream) can
// replace it (history-redis.ts, history-nats.ts): its methods may return promises, and the relay keeps
// the order of appends it started (in a cluster, the order of the sequence numbers).

/** A message as the history keeps it. */
export interface StoredMessage {
  channel: string;
  /** 1 for a channel's first message, then +1 per message. */
  seq: number;
  /** When the relay accepted it (ms since the epoch). */
  time: number;
  data: Buffer;
  binary: boolean;
  /** The epoch the number belongs to (shared stores say it; it changes only if the store was wiped). */
  epoch?: string;
}

/** What a read from `since` found. */
export interface HistoryRead {
  /** The messages after `since` still kept, in order. */
  messages: StoredMessage[];
  /** The channel's newest sequence number (0: nothing published yet). */
  latest: number;
  /** Messages after `since` that are no longer kept (inclusive range); absent when nothing was lost. */
  lost?: { from: number; to: number };
}

type MaybePromise<T> = T | Promise<T>;

/**
 * A read's answer: the kept `messages` after `since` (in order), and as lost the numbers after `since`
 * that come before `first`, the oldest number still kept (`latest + 1` when none is).
 */
export function historyRead(messages: StoredMessage[], latest: number, since: number, first = messages[0]?.seq ?? latest + 1): HistoryRead {
  const read: HistoryRead = { messages, latest };
  if (since + 1 < first && since < latest) read.lost = { from: since + 1, to: Math.min(first - 1, latest) };
  return read;
}

export interface HistoryStore {
  /**
   * Identifies this run of the sequence numbers: a client's `since` from another epoch (the relay was
   * restarted with an in-memory store) does not refer to these messages.
   */
  readonly epoch: string;
  /** Stamps a message with the channel's next sequence number and the time, and keeps it. */
  append(channel: string, data: Buffer, binary: boolean): MaybePromise<StoredMessage>;
  /** The messages with a sequence number greater than `since`, and what is lost between. */
  read(channel: string, since: number): MaybePromise<HistoryRead>;
  /** The channel's newest sequence number. */
  latest(channel: string): MaybePromise<number>;
}

export interface MemoryHistoryOptions {
  /** Most messages kept per channel (0: none kept, sequence numbers still given). */
  limit: number;
  /** Longest a message is kept (ms; 0: no age limit). */
  ttl: number;
  /** Most payload bytes kept per channel. */
  maxBytes: number;
  /**
   * Most payload bytes kept for all channels together (default: no bound beyond the per-channel one).
   * Past it, the oldest messages of the channels that have gone longest without a message are dropped
   * (a client that asks for them gets a gap, as for any message no longer kept).
   */
  maxTotalBytes?: number;
  /** The clock (tests). */
  now?: () => number;
  /** The epoch (default: random). */
  epoch?: string;
}

interface ChannelLog {
  /** The newest sequence number handed out. */
  seq: number;
  /** Kept messages, oldest first, from index `head`. */
  items: StoredMessage[];
  head: number;
  bytes: number;
}

export class MemoryHistory implements HistoryStore {
  readonly epoch: string;
  /** Channel logs, the one with the oldest last message first. */
  private readonly _logs = new Map<string, ChannelLog>();
  private readonly _now: () => number;
  private _totalBytes = 0;

  constructor(private readonly _options: MemoryHistoryOptions) {
    this._now = _options.now ?? Date.now;
    this.epoch = _options.epoch ?? Math.random().toString(36).slice(2, 10) + this._now().toString(36);
  }

  append(channel: string, data: Buffer, binary: boolean): StoredMessage {
    let log = this._logs.get(channel);
    if (log === undefined) log = { seq: 0, items: [], head: 0, bytes: 0 };
    else this._logs.delete(channel);
    // The most recently written channel goes last.
    this._logs.set(channel, log);
    const message: StoredMessage = { channel, seq: ++log.seq, time: this._now(), data, binary };
    if (this._options.limit > 0 && data.length <= this._options.maxBytes) {
      // A copy: the data may be a view of a buffer its owner reuses.
      log.items.push({ ...message, data: ownCopy(data) });
      log.bytes += data.length;
      this._totalBytes += data.length;
    } else {
      // Not kept: neither is anything before it, so what is kept never has a hole.
      this._totalBytes -= log.bytes;
      log.items = [];
      log.head = 0;
      log.bytes = 0;
    }
    this._prune(log);
    this._bound();
    return message;
  }

  read(channel: string, since: number): HistoryRead {
    const log = this._logs.get(channel);
    if (log === undefined) return { messages: [], latest: 0 };
    this._prune(log);
    const latest = log.seq;
    const start = Math.max(0, since);
    const first = log.head < log.items.length ? log.items[log.head]!.seq : latest + 1;
    const messages: StoredMessage[] = [];
    for (let i = log.head; i < log.items.length; i++) {
      const item = log.items[i]!;
      if (item.seq > start) messages.push(item);
    }
    return historyRead(messages, latest, start, first);
  }

  latest(channel: string): number {
    return this._logs.get(channel)?.seq ?? 0;
  }

  /** Messages and bytes kept for a channel (tests, metrics). */
  size(channel: string): { messages: number; bytes: number } {
    const log = this._logs.get(channel);
    if (log === undefined) return { messages: 0, bytes: 0 };
    this._prune(log);
    return { messages: log.items.length - log.head, bytes: log.bytes };
  }

  /** Bytes kept for all channels. */
  get totalBytes(): number {
    return this._totalBytes;
  }

  /** Drops the oldest messages of the least recently written channels while over maxTotalBytes. */
  private _bound(): void {
    const max = this._options.maxTotalBytes;
    if (max === undefined || this._totalBytes <= max) return;
    for (const log of this._logs.values()) {
      while (this._totalBytes > max && log.head < log.items.length) this._dropOldest(log);
      if (this._totalBytes <= max) break;
    }
  }

  private _dropOldest(log: ChannelLog): void {
    const item = log.items[log.head]!;
    log.bytes -= item.data.length;
    this._totalBytes -= item.data.length;
    log.items[log.head] = undefined as unknown as StoredMessage;
    log.head++;
  }

  private _prune(log: ChannelLog): void {
    const { limit, ttl, maxBytes } = this._options;
    const oldest = ttl > 0 ? this._now() - ttl : -Infinity;
    while (log.head < log.items.length) {
      const item = log.items[log.head]!;
      const count = log.items.length - log.head;
      if (count > limit || log.bytes > maxBytes || item.time < oldest) this._dropOldest(log);
      else break;
    }
    // Compact once the dropped part is as big as the kept part.
    if (log.head > 0 && log.head * 2 >= log.items.length) {
      log.items = log.items.slice(log.head);
      log.head = 0;
    }
  }
}

/**
 * A copy with its own memory. Buffer.from() takes small copies from a shared 8 KiB pool, and one kept
 * message keeps its whole pool block alive: history bounded by payload bytes would hold up to 8 KiB per
 * message of a few bytes.
 */
function ownCopy(data: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}
