// Ordered delivery of a channel's messages on one relay node of a cluster. Messages reach a node from two
// places: its own publishes (numbered by the shared history) and the other nodes' (through the broker
// adapter), and the two can arrive in any order. The feed hands each channel's messages to the local
// clients exactly once and in sequence order: a message whose number is not the next one is held, and
// if the missing ones do not come within `grace` ms (a publish the broker lost, an outage), they are read
// from the shared history. Numbers already delivered are dropped (no duplicates).
//
// A channel is fed only while it has local clients (`retain`/`release`); the feed then knows where the
// channel stood when it started (the history's newest number) and waits for that before delivering.
import type { HistoryStore, StoredMessage } from './history.js';
import type { Logger } from './log.js';

/** Most messages held for one channel while the history cannot be read to fill the hole before them. */
const MAX_HELD = 10_000;

export interface FeedOptions {
  history: HistoryStore;
  log: Logger;
  /** Delivers a message to the local clients of its channel; returns how many it was written to. */
  deliver(message: StoredMessage): number;
  /** The channel has its first local client: start hearing of it from other nodes; resolves once that is in place. */
  listen(channel: string): Promise<void>;
  /** The channel has no local client any more. */
  unlisten(channel: string): void;
  /** The history's numbers restarted (its store was wiped): tell the channel's clients. */
  reset(channel: string, epoch: string): void;
  /** How long a message waits for the ones before it before they are read from the history (ms). */
  grace: number;
}

interface ChannelFeed {
  channel: string;
  clients: number;
  /** The newest number delivered (null: not known yet). */
  last: number | null;
  epoch: string | undefined;
  /** Messages that came before their turn, by number. */
  held: Map<number, StoredMessage>;
  /** Numbers of local publishes held before `last` was known (they must not be skipped). */
  ownHeld: number[];
  timer: NodeJS.Timeout | null;
  fetching: boolean;
  /** The last read from the history failed (logged once until one succeeds). */
  failing: boolean;
  ready: Promise<void>;
}

export class ClusterFeed {
  private readonly _feeds = new Map<string, ChannelFeed>();
  /** Epochs the cluster moved away from: late messages of theirs are dropped. */
  private readonly _retired = new Set<string>();

  constructor(private readonly _options: FeedOptions) {}

  /** A local client joined the channel; resolves once its messages from every node are in order here. */
  retain(channel: string): Promise<void> {
    const existing = this._feeds.get(channel);
    if (existing !== undefined) {
      existing.clients++;
      return existing.ready;
    }
    const feed: ChannelFeed = {
      channel,
      clients: 1,
      last: null,
      epoch: undefined,
      held: new Map(),
      ownHeld: [],
      timer: null,
      fetching: false,
      failing: false,
      ready: Promise.resolve(),
    };
    this._feeds.set(channel, feed);
    feed.ready = this._start(feed);
    return feed.ready;
  }

  release(channel: string): void {
    const feed = this._feeds.get(channel);
    if (feed === undefined || --feed.clients > 0) return;
    this._feeds.delete(channel);
    if (feed.timer !== null) clearTimeout(feed.timer);
    this._options.unlisten(channel);
  }

  /** The channels with local clients. */
  get channels(): string[] {
    return [...this._feeds.keys()];
  }

  /**
   * A stamped message, from this node (`own`) or another. Returns how many local connections it was
   * written to now (0 when it is held for its turn, dropped as a duplicate, or nobody here listens).
   */
  offer(message: StoredMessage, own: boolean): number {
    const feed = this._feeds.get(message.channel);
    if (feed === undefined) return own ? this._options.deliver(message) : 0;
    if (message.epoch !== undefined && message.epoch !== feed.epoch) {
      if (this._retired.has(message.epoch)) return 0;
      if (feed.epoch !== undefined) this._reset(feed, message.epoch);
      else feed.epoch = message.epoch;
    }
    if (feed.last === null) {
      feed.held.set(message.seq, message);
      if (own) feed.ownHeld.push(message.seq);
      return 0;
    }
    if (message.seq <= feed.last) return 0;
    if (message.seq === feed.last + 1) {
      const count = this._deliver(feed, message);
      this._drain(feed);
      return count;
    }
    feed.held.set(message.seq, message);
    this._schedule(feed);
    return 0;
  }

  /** Reads what every fed channel missed (after the link to the broker came back). */
  catchUp(): void {
    for (const feed of this._feeds.values()) if (feed.last !== null) void this._fetch(feed);
  }

  close(): void {
    for (const feed of this._feeds.values()) if (feed.timer !== null) clearTimeout(feed.timer);
    this._feeds.clear();
  }

  /**
   * Listens on the broker and learns where the channel stands. If the history cannot be read (its broker
   * is away), `ready` rejects (a v1 join is told) and the feed tries again every 4 × grace, holding what
   * comes meanwhile; a client that comes later waits for the new attempt.
   */
  private _start(feed: ChannelFeed): Promise<void> {
    const attempt = this._begin(feed, true);
    attempt.catch(() => this._retryStart(feed));
    return attempt;
  }

  private _retryStart(feed: ChannelFeed): void {
    const timer = setTimeout(() => {
      if (this._feeds.get(feed.channel) !== feed || feed.last !== null) return;
      feed.ready = this._begin(feed, false);
      feed.ready.catch(() => this._retryStart(feed));
    }, 4 * this._options.grace);
    timer.unref?.();
  }

  private async _begin(feed: ChannelFeed, listen: boolean): Promise<void> {
    const { history } = this._options;
    // Asked before the listening is in place: what is numbered after this answer comes either from the
    // broker or from the read at the end.
    const latest = Promise.resolve().then(() => history.latest(feed.channel));
    latest.catch(() => undefined);
    if (listen) {
      try {
        await this._options.listen(feed.channel);
      } catch (error) {
        this._options.log.warn('listening to a channel on the broker failed; its messages from other nodes come from the history', {
          channel: feed.channel,
          error: String(error),
        });
      }
    }
    let start: number;
    try {
      start = await latest;
    } catch (error) {
      if (!feed.failing)
        this._options.log.warn('the history cannot be read: the channel waits for it', { channel: feed.channel, error: String(error) });
      feed.failing = true;
      throw error;
    }
    feed.failing = false;
    if (this._feeds.get(feed.channel) !== feed) return;
    feed.epoch ??= history.epoch;
    // This node's own publishes made after the client came are delivered even if numbered before `start`.
    for (const seq of feed.ownHeld) start = Math.min(start, seq - 1);
    feed.ownHeld = [];
    feed.last = start;
    for (const seq of [...feed.held.keys()]) if (seq <= start) feed.held.delete(seq);
    this._drain(feed);
    // Anything numbered between the first read and the listening being in place.
    await this._fetch(feed);
  }

  private _deliver(feed: ChannelFeed, message: StoredMessage): number {
    feed.last = message.seq;
    try {
      return this._options.deliver(message);
    } catch (error) {
      this._options.log.error('delivering a message failed', { channel: feed.channel, error: String(error) });
      return 0;
    }
  }

  /** Delivers held messages that are now next in turn. */
  private _drain(feed: ChannelFeed): void {
    for (;;) {
      const next = feed.held.get(feed.last! + 1);
      if (next === undefined) break;
      feed.held.delete(next.seq);
      this._deliver(feed, next);
    }
    for (const seq of feed.held.keys()) if (seq <= feed.last!) feed.held.delete(seq);
    if (feed.held.size === 0 && feed.timer !== null) {
      clearTimeout(feed.timer);
      feed.timer = null;
    } else if (feed.held.size > 0) this._schedule(feed);
  }

  private _schedule(feed: ChannelFeed): void {
    if (feed.timer !== null || feed.fetching) return;
    feed.timer = setTimeout(() => {
      feed.timer = null;
      void this._fetch(feed);
    }, this._options.grace);
    feed.timer.unref?.();
  }

  /**
   * Reads the history after the last delivered number and delivers, in order, what it has and what is
   * held; numbers the history no longer has (and nobody brought) are skipped.
   */
  private async _fetch(feed: ChannelFeed): Promise<void> {
    if (feed.fetching || feed.last === null) return;
    feed.fetching = true;
    try {
      const read = await this._options.history.read(feed.channel, feed.last);
      feed.failing = false;
      if (this._feeds.get(feed.channel) !== feed) return;
      const lostTo = read.lost?.to ?? 0;
      const candidates = new Map(feed.held);
      for (const message of read.messages) if (!candidates.has(message.seq)) candidates.set(message.seq, message);
      for (const seq of [...candidates.keys()].sort((a, b) => a - b)) {
        if (seq <= feed.last) continue;
        if (seq !== feed.last + 1) {
          if (seq - 1 > lostTo) break;
          this._skipped(feed, seq - 1);
        }
        feed.held.delete(seq);
        this._deliver(feed, candidates.get(seq)!);
      }
      if (lostTo > feed.last) this._skipped(feed, lostTo);
    } catch (error) {
      if (!feed.failing)
        this._options.log.warn('reading missed messages from the history failed; retrying', {
          channel: feed.channel,
          error: String(error),
        });
      feed.failing = true;
      // Bounded: past MAX_HELD, what is held is delivered and the hole before it given up.
      if (feed.held.size > MAX_HELD) this._skipped(feed, Math.min(...feed.held.keys()) - 1);
    } finally {
      feed.fetching = false;
    }
    if (this._feeds.get(feed.channel) === feed) this._drain(feed);
  }

  private _skipped(feed: ChannelFeed, to: number): void {
    this._options.log.warn("messages no longer in the history were skipped for this node's clients", {
      channel: feed.channel,
      from: feed.last! + 1,
      to,
    });
    feed.last = to;
  }

  private _reset(feed: ChannelFeed, epoch: string): void {
    if (feed.epoch !== undefined) this._retired.add(feed.epoch);
    feed.epoch = epoch;
    feed.last = 0;
    feed.held.clear();
    this._options.log.warn('the shared history was reset (its store lost its data): numbers start again', { channel: feed.channel, epoch });
    this._options.reset(feed.channel, epoch);
  }
}
