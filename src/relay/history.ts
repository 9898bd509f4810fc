// Channel history: every message published on a channel gets the next sequence number of that channel
// and is kept for a while, so a client that comes back can be sent exactly what it missed, or be told
// which range is gone. The relay talks to a store through HistoryStore only; MemoryHistory is the default
// (bounded by count, age and bytes per channel; count and age may differ per namespace). A shared store (Redis Streams, NATS JetStream) can
// replace it (history-redis.ts, history-nats.ts): its methods may return promises, and the relay keeps
// the order of appends it started (in a cluster, the order of the sequence numbers).
import { MessageLog } from './history-log.js';

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
  /** The id of the wavecast.v1 connection that published it (the relay sets it; absent for plain and HTTP). */
  from?: string;
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
  /** Stamps a message with the channel's next sequence number and the time, and keeps it (with `from`). */
  append(channel: string, data: Buffer, binary: boolean, from?: string): MaybePromise<StoredMessage>;
  /** The messages with a sequence number greater than `since`, and what is lost between. */
  read(channel: string, since: number): MaybePromise<HistoryRead>;
  /** The channel's newest sequence number. */
  latest(channel: string): MaybePromise<number>;
  /**
   * Frees what idle channels hold (called periodically by the relay). A channel that comes back after
   * its record was freed must go on with numbers above those it had (clients holding one are told of a
   * gap, never fed another message under the same number).
   */
  sweep?(): void | Promise<void>;
}

/** What a channel's history keeps. */
export interface HistoryBounds {
  /** Most messages kept (0: none kept, sequence numbers still given). */
  limit: number;
  /** Longest a message is kept (ms; 0: no age limit). */
  ttl: number;
  /** Most payload bytes kept. */
  maxBytes: number;
}

/**
 * The bounds of each channel: the same for every channel (the --history flags), or per namespace where
 * a config sets them (Namespaces.historyBounds).
 */
export interface ChannelBounds {
  of(channel: string): HistoryBounds;
  /** The shortest ttl above 0 any channel has (ms; 0 when no channel has an age limit): sweeps go by it. */
  readonly shortestTtl: number;
}

/** The same bounds for every channel. */
export function sameBounds(bounds: HistoryBounds): ChannelBounds {
  return { of: () => bounds, shortestTtl: Math.max(bounds.ttl, 0) };
}

/** Bounds as a store is given them: one set for all channels, or per channel. */
export function channelBounds(bounds: HistoryBounds | ChannelBounds): ChannelBounds {
  return 'of' in bounds ? bounds : sameBounds(bounds);
}

export interface MemoryHistoryOptions extends HistoryBounds {
  /**
   * Bounds per channel (limit and ttl; maxBytes stays the one above); default: `limit`, `ttl` and
   * `maxBytes` for every channel.
   */
  perChannel?: ChannelBounds;
  /**
   * Most bytes of memory for all channels together, counting what each channel really holds (its
   * record, CHANNEL_OVERHEAD plus the name, and the slots and byte ring of its kept messages, used or
   * not) (default: no bound beyond the per-channel ones). Before a channel's memory grows past it, the
   * oldest messages of the channels that have gone longest without a message are dropped, then those
   * channels' records (a client that asks for them gets a gap, as for any message no longer kept), and
   * last the channel's own oldest.
   */
  maxTotalBytes?: number;
  /** Most channels with a record (numbers and history) (default: no bound); past it the quietest is freed. */
  maxChannels?: number;
  /** The clock (tests). */
  now?: () => number;
  /** The epoch (default: random). */
  epoch?: string;
}

/**
 * Memory a channel's record costs beyond its name and its messages' slots and ring: its log, its Map entry,
 * and once it keeps a message the Buffer that holds them and the publishers' array (measured: about 390
 * bytes in all for a channel keeping one 16-byte message, slots and ring included, and up to about 500 per
 * channel when channels come and go under the total bound: test/relay/history-memory.test.ts).
 */
export const CHANNEL_OVERHEAD = 512;

/** Bits of the filter of freed channel names (128 KiB). */
const FREED_BITS = 1 << 20;

export class MemoryHistory implements HistoryStore {
  readonly epoch: string;
  /** Channel logs, the one with the oldest last message first. */
  private readonly _logs = new Map<string, MessageLog>();
  private readonly _now: () => number;
  /** Memory counted for all channels: records and what their logs hold. */
  private _totalBytes = 0;
  /**
   * A channel whose record was freed may come back: its numbers must then go on above every number it
   * had, so that a client holding one of them is told of a gap rather than fed another message under the
   * same number. `_floor` is the highest number of any freed channel; `_freed` a filter (one bit per
   * hash) of the names freed. A new channel whose bit is set starts after `_floor` (a false positive only
   * makes a new channel start higher than 1); one whose bit is clear starts at 1.
   */
  private _floor = 0;
  private _freed: Uint8Array | null = null;
  private readonly _bounds: ChannelBounds;

  constructor(private readonly _options: MemoryHistoryOptions) {
    this._now = _options.now ?? Date.now;
    this._bounds = _options.perChannel ?? sameBounds(_options);
    this.epoch = _options.epoch ?? Math.random().toString(36).slice(2, 10) + this._now().toString(36);
  }

  append(channel: string, data: Buffer, binary: boolean, from?: string): StoredMessage {
    let log = this._logs.get(channel);
    if (log === undefined) log = this._create(channel);
    else this._logs.delete(channel);
    // The most recently written channel goes last.
    this._logs.set(channel, log);
    const message: StoredMessage = { channel, seq: ++log.seq, time: this._now(), data, binary };
    if (from !== undefined) message.from = from;
    log.last = message.time;
    const length = data.length;
    const { maxBytes, maxTotalBytes } = this._options;
    if (!(log.limit > 0 && length <= maxBytes)) {
      // Not kept: neither is anything before it, so what is kept never has a hole.
      this._totalBytes -= log.cost;
      log.clear();
      return message;
    }
    // Room by the channel's own bounds first: what they would drop after this message goes now.
    this._prune(log, message.time);
    while (log.count > 0 && (log.count >= log.limit || log.bytes + length > maxBytes)) this._drop(log);
    let growth = log.growthFor(length);
    if (growth > 0 && maxTotalBytes !== undefined && this._totalBytes + growth > maxTotalBytes) {
      // Then from the quietest channels, and last from its own oldest (which leaves room in its ring).
      this._bound(growth, log);
      while (log.count > 0 && this._totalBytes + growth > maxTotalBytes) {
        this._drop(log);
        growth = log.growthFor(length);
      }
      // Not even this one fits (nothing else is kept now).
      if (this._totalBytes + growth > maxTotalBytes) return message;
    }
    const held = log.cost;
    log.push(message.time, data, binary, from);
    this._totalBytes += log.cost - held;
    return message;
  }

  read(channel: string, since: number): HistoryRead {
    const log = this._logs.get(channel);
    const start = Math.max(0, since);
    if (log === undefined) return historyRead([], this.latest(channel), start);
    this._prune(log);
    return historyRead(log.after(channel, start), log.seq, start, log.firstSeq);
  }

  latest(channel: string): number {
    const log = this._logs.get(channel);
    if (log !== undefined) return log.seq;
    return this._wasFreed(channel) ? this._floor : 0;
  }

  /** Messages and payload bytes kept for a channel (tests, metrics). */
  size(channel: string): { messages: number; bytes: number } {
    const log = this._logs.get(channel);
    if (log === undefined) return { messages: 0, bytes: 0 };
    this._prune(log);
    return { messages: log.count, bytes: log.bytes };
  }

  /** Memory counted for all channels: CHANNEL_OVERHEAD and the name per channel, and what their logs hold. */
  get totalBytes(): number {
    return this._totalBytes;
  }

  /** Channels with a record. */
  get channels(): number {
    return this._logs.size;
  }

  /**
   * Frees the records of channels idle past their ttl: every message they kept has expired, and so has
   * the time a client could ask for it. Walks from the least recently written channel and stops at the
   * first idle for less than the shortest ttl (no later one can be past its own), so a sweep costs what
   * it frees, plus the idle channels of namespaces with a longer ttl or none. Does nothing without a ttl.
   */
  sweep(): void {
    const shortest = this._bounds.shortestTtl;
    if (shortest <= 0) return;
    const now = this._now();
    for (const [channel, log] of this._logs) {
      if (log.last >= now - shortest) break;
      if (log.ttl > 0 && log.last < now - log.ttl) this._free(channel, log);
    }
  }

  private _create(channel: string): MessageLog {
    const max = this._options.maxChannels;
    if (max !== undefined && this._logs.size >= max) {
      // The channel quiet the longest gives way.
      const [quietest, log] = this._logs.entries().next().value as [string, MessageLog];
      this._free(quietest, log);
    }
    this._totalBytes += channelCost(channel);
    const { limit, ttl } = this._bounds.of(channel);
    return new MessageLog(this._wasFreed(channel) ? this._floor : 0, limit, ttl);
  }

  /** Forgets a channel's record; its numbers are remembered by the floor and the filter. */
  private _free(channel: string, log: MessageLog): void {
    this._totalBytes -= log.cost + channelCost(channel);
    log.clear();
    this._logs.delete(channel);
    this._floor = Math.max(this._floor, log.seq);
    this._freed ??= new Uint8Array(FREED_BITS / 8);
    const bit = hashName(channel) % FREED_BITS;
    this._freed[bit >> 3]! |= 1 << (bit & 7);
  }

  private _wasFreed(channel: string): boolean {
    if (this._freed === null) return false;
    const bit = hashName(channel) % FREED_BITS;
    return (this._freed[bit >> 3]! & (1 << (bit & 7))) !== 0;
  }

  /**
   * While the memory counted plus `extra` is over maxTotalBytes: drops the oldest messages of the least
   * recently written channels other than `keep`, and frees the records of those left empty.
   */
  private _bound(extra: number, keep: MessageLog): void {
    const max = this._options.maxTotalBytes!;
    for (const [channel, log] of this._logs) {
      if (this._totalBytes + extra <= max) return;
      if (log === keep) continue;
      while (this._totalBytes + extra > max && log.count > 0) this._drop(log);
      // Emptied (or holding nothing): the record goes too.
      if (log.count === 0) this._free(channel, log);
    }
  }

  /** Drops what the channel's own bounds no longer allow at `now` (its age limit: the others hold on append). */
  private _prune(log: MessageLog, now = this._now()): void {
    if (log.ttl <= 0) return;
    const oldest = now - log.ttl;
    while (log.count > 0 && log.oldestTime < oldest) this._drop(log);
  }

  /** Drops a channel's oldest message, counting the memory its log gives back. */
  private _drop(log: MessageLog): void {
    const before = log.cost;
    log.dropOldest();
    this._totalBytes += log.cost - before;
  }
}

/** What a channel's record costs: its overhead and its name (two bytes a UTF-16 code unit). */
function channelCost(channel: string): number {
  return CHANNEL_OVERHEAD + 2 * channel.length;
}

/** FNV-1a over a name's UTF-16 code units (filters and buckets of channel names; the same on every node). */
export function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
