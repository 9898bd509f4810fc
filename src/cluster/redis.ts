// RedisAdapter: carries publish() between nodes through Redis Pub/Sub, with the `redis` package
// (node-redis, the client Redis maintains and recommends), loaded only when connect() is called so that
// wavecast itself never needs it. Import from 'wavecast/redis'.
//
// It works on a RedisLink (redis-link.ts): its own, or one the node shares with its other users of
// Redis. Each topic with local subscribers is one channel, `prefix + topic`, subscribed on the link's
// subscriber connection; publishes go out on its command connection. The client library reconnects with
// the link's back-off and subscribes its channels again; on each reconnect we also reconcile its
// channels with the topics we want, then report 'reconnected'.
import { BrokerAdapter, type BrokerAdapterOptions } from './broker-adapter.js';
import type { LinkState } from './link.js';
import { checkRedisUrl, DEFAULT_REDIS_URL, RedisLink, type RedisMessageListener } from './redis-link.js';

export { DEFAULT_REDIS_URL, RedisLink, type RedisLinkOptions } from './redis-link.js';

export interface RedisAdapterOptions extends BrokerAdapterOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Put before each topic to make its channel name (default `wavecast:`). Nodes that talk share it. */
  prefix?: string;
  /**
   * More options for the `redis` package's createClient (TLS, credentials, ...), used for both
   * connections. The adapter sets `url`, `socket.reconnectStrategy`, `socket.connectTimeout` and, for
   * the publishing connection, `disableOfflineQueue` itself. Not with `link`.
   */
  clientOptions?: Record<string, unknown>;
  /**
   * A link to Redis shared with the node's other users of Redis (the relay's history and documents): the
   * adapter then opens no connection of its own, and `url`, `reconnectDelay`, `connectTimeout` and
   * `clientOptions` are the link's.
   */
  link?: RedisLink;
}

/** PUBLISH without node-redis's per-command timer (an AbortSignal per command costs more than the command). */
const PUBLISH_OPTIONS = { timeout: 0 };

export class RedisAdapter extends BrokerAdapter {
  readonly prefix: string;
  /** The link the adapter works on. */
  readonly link: RedisLink;
  /** @internal Subscribes and unsubscribes the server has not answered yet (synced() waits for them). */
  private readonly _pending = new Set<Promise<unknown>>();
  /** @internal Counts reconnections, so that a reconcile overtaken by another outage does not report success. */
  private _linkEpoch = 0;
  /** @internal */
  private readonly _onMessage: RedisMessageListener = (message) => this._receive(message);
  /** @internal Bytes of publishes sent and not yet acknowledged by Redis. */
  private _pendingBytes = 0;
  /** @internal */
  private _overLimit = false;
  /** @internal */
  private _unwatch: (() => void) | null = null;

  constructor(options: RedisAdapterOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RedisAdapter options must be an object');
    const url = options.link?.url ?? options.url ?? DEFAULT_REDIS_URL;
    if (options.link === undefined) checkRedisUrl(url);
    super('Redis', url, options);
    this.prefix = options.prefix ?? 'wavecast:';
    if (typeof this.prefix !== 'string') throw new TypeError('Invalid prefix: expected a string');
    if (options.clientOptions !== undefined && (options.clientOptions === null || typeof options.clientOptions !== 'object')) {
      throw new TypeError('Invalid clientOptions: expected an object of options for createClient');
    }
    this.link =
      options.link ??
      new RedisLink({
        url,
        reconnectDelay: this._reconnectDelay,
        connectTimeout: this._connectTimeout,
        ...(options.clientOptions !== undefined ? { clientOptions: options.clientOptions } : {}),
      });
  }

  /** The Redis channel that carries `topic`. */
  channel(topic: string): string {
    return this.prefix + topic;
  }

  protected async _open(): Promise<void> {
    await this.link.open('RedisAdapter');
    this._unwatch = this.link.onState((state: LinkState, cause?: unknown) => {
      if (state === 'reconnecting') this._linkDown(cause ?? new Error('connection lost'));
      else if (state === 'connected') this._maybeLinkUp();
    });
  }

  /** @internal Both connections are ready again: subscribe what the library lost track of, then report. */
  private _maybeLinkUp(): void {
    if (this.state !== 'reconnecting' || this.link.state !== 'connected') return;
    const pub = this.link.command;
    const sub = this.link.subscriber;
    const epoch = ++this._linkEpoch;
    const work: Promise<unknown>[] = [];
    const listening = sub.getPubSubListeners('CHANNELS');
    const wanted = new Set<string>();
    for (const topic of this._topics) {
      const channel = this.channel(topic);
      wanted.add(channel);
      if (!listening.has(channel)) work.push(this._track(sub.subscribe(channel, this._onMessage, true), 'subscribe', topic));
    }
    for (const channel of listening.keys()) {
      if (!wanted.has(channel) && channel.startsWith(this.prefix)) {
        work.push(this._track(sub.unsubscribe(channel, this._onMessage, true), 'unsubscribe', channel.slice(this.prefix.length)));
      }
    }
    void Promise.all(work).then(() => {
      if (epoch === this._linkEpoch && pub.isReady && sub.isReady) this._linkUp();
    });
  }

  protected async _shut(): Promise<void> {
    this._unwatch?.();
    this._unwatch = null;
    // A shared link stays open for its other users: let go of this adapter's channels first.
    if (this.link.state === 'connected') {
      const sub = this.link.subscriber;
      await Promise.all(
        [...this._topics].map((topic) => sub.unsubscribe(this.channel(topic), this._onMessage, true).catch(() => undefined)),
      );
    }
    await this.link.close();
  }

  protected _brokerSubscribe(topic: string): void {
    if (this.link.state === 'connected' || this.link.state === 'reconnecting')
      void this._track(this.link.subscriber.subscribe(this.channel(topic), this._onMessage, true), 'subscribe', topic);
  }

  protected _brokerUnsubscribe(topic: string): void {
    if (this.link.state === 'connected' || this.link.state === 'reconnecting')
      void this._track(this.link.subscriber.unsubscribe(this.channel(topic), this._onMessage, true), 'unsubscribe', topic);
  }

  protected _brokerPublish(topic: string, message: Buffer): boolean {
    const pub = this.link.command;
    const bytes = message.length;
    if (this._pendingBytes + bytes > this._maxPendingBytes && this._pendingBytes > 0) {
      if (!this._overLimit) {
        this._overLimit = true;
        this._pendingLimitReached();
      }
      return false;
    }
    this._overLimit = false;
    this._pendingBytes += bytes;
    pub.sendCommand(['PUBLISH', this.channel(topic), message], PUBLISH_OPTIONS).then(
      () => {
        this._pendingBytes -= bytes;
      },
      (error: unknown) => {
        this._pendingBytes -= bytes;
        this._publishFailed(error);
      },
    );
    return true;
  }

  protected async _brokerSynced(): Promise<void> {
    while (this._pending.size > 0) await Promise.all([...this._pending]);
  }

  /** @internal Keeps a subscribe or unsubscribe in `_pending` until Redis answers; reports a failure (never rejects). */
  private _track(promise: Promise<unknown>, action: string, topic: string): Promise<unknown> {
    const tracked = promise.then(
      () => undefined,
      (error: unknown) => {
        // While the link is down, the reconcile on reconnect takes care of it.
        if (this.state === 'connected') this._subscriptionFailed(action, topic, error);
      },
    );
    this._pending.add(tracked);
    void tracked.then(() => this._pending.delete(tracked));
    return tracked;
  }
}
