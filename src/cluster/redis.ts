// RedisAdapter: carries publish() between nodes through Redis Pub/Sub, with the `redis` package
// (node-redis, the client Redis maintains and recommends), loaded only when connect() is called so that
// wavecast itself never needs it. Import from 'wavecast/redis'.
//
// Two connections: one publishes, one is in subscribe mode (Redis allows only pub/sub commands there).
// Each topic with local subscribers is one channel, `prefix + topic`. The client library reconnects
// with our back-off and subscribes its channels again; on each reconnect we also reconcile its channels
// with the topics we want, then report 'reconnected'.
import { BrokerAdapter, loadPeer, type BrokerAdapterOptions } from './broker-adapter.js';

export interface RedisAdapterOptions extends BrokerAdapterOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Put before each topic to make its channel name (default `wavecast:`). Nodes that talk share it. */
  prefix?: string;
  /**
   * More options for the `redis` package's createClient (TLS, credentials, ...), used for both
   * connections. The adapter sets `url`, `socket.reconnectStrategy`, `socket.connectTimeout` and, for
   * the publishing connection, `disableOfflineQueue` itself.
   */
  clientOptions?: Record<string, unknown>;
}

type MessageListener = (message: Buffer, channel: Buffer) => void;

/** The part of a node-redis client the adapter uses. */
interface RedisClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(channels: string, listener: MessageListener, bufferMode: true): Promise<void>;
  unsubscribe(channels: string, listener: MessageListener, bufferMode: true): Promise<void>;
  sendCommand(args: Array<string | Buffer>, options?: Record<string, unknown>): Promise<unknown>;
  getPubSubListeners(type: 'CHANNELS'): Map<string, unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

interface RedisModule {
  createClient(options: Record<string, unknown>): RedisClient;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** PUBLISH without node-redis's per-command timer (an AbortSignal per command costs more than the command). */
const PUBLISH_OPTIONS = { timeout: 0 };

export class RedisAdapter extends BrokerAdapter {
  readonly prefix: string;
  /** @internal */
  private readonly _rawUrl: string;
  /** @internal */
  private readonly _clientOptions: Record<string, unknown>;
  /** @internal */
  private _pub: RedisClient | null = null;
  /** @internal */
  private _sub: RedisClient | null = null;
  /** @internal Subscribes and unsubscribes the server has not answered yet (synced() waits for them). */
  private readonly _pending = new Set<Promise<unknown>>();
  /** @internal Counts reconnections, so that a reconcile overtaken by another outage does not report success. */
  private _linkEpoch = 0;
  /** @internal */
  private readonly _onMessage: MessageListener = (message) => this._receive(message);
  /** @internal Bytes of publishes sent and not yet acknowledged by Redis. */
  private _pendingBytes = 0;
  /** @internal */
  private _overLimit = false;

  constructor(options: RedisAdapterOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RedisAdapter options must be an object');
    const url = options.url ?? DEFAULT_REDIS_URL;
    checkRedisUrl(url);
    super('Redis', url, options);
    this._rawUrl = url;
    this.prefix = options.prefix ?? 'wavecast:';
    if (typeof this.prefix !== 'string') throw new TypeError('Invalid prefix: expected a string');
    if (options.clientOptions !== undefined && (options.clientOptions === null || typeof options.clientOptions !== 'object')) {
      throw new TypeError('Invalid clientOptions: expected an object of options for createClient');
    }
    this._clientOptions = options.clientOptions ?? {};
  }

  /** The Redis channel that carries `topic`. */
  channel(topic: string): string {
    return this.prefix + topic;
  }

  protected async _open(): Promise<void> {
    const redis = await loadPeer<RedisModule>('redis', 'RedisAdapter');
    let everReady = false;
    let firstError: unknown = null;
    const socketOptions = (this._clientOptions.socket as Record<string, unknown> | undefined) ?? {};
    const options = (extra: Record<string, unknown>) => ({
      ...this._clientOptions,
      ...extra,
      url: this._rawUrl,
      socket: {
        ...socketOptions,
        connectTimeout: this._connectTimeout,
        // Before the first connection: give up at once, so connect() fails with a clear error.
        // After it: retry for as long as the adapter is open.
        reconnectStrategy: (retries: number, cause: unknown) =>
          everReady ? this._backoff(retries) : cause instanceof Error ? cause : new Error(String(cause)),
      },
    });
    const pub = redis.createClient(options({ disableOfflineQueue: true }));
    const sub = redis.createClient(options({}));
    this._pub = pub;
    this._sub = sub;
    for (const client of [pub, sub]) {
      // node-redis emits 'error' for every failed attempt; without a listener that would throw.
      client.on('error', (error: unknown) => {
        firstError ??= error;
        if (everReady && !client.isReady) this._linkDown(error);
        else if (everReady && this.state === 'connected') this._log('warn', `Redis client error: ${String((error as Error)?.message ?? error)}`);
      });
      client.on('reconnecting', () => {
        if (everReady) this._linkDown(new Error('connection lost'));
      });
      client.on('ready', () => {
        if (everReady) this._maybeLinkUp();
      });
    }
    try {
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (error) {
      this._pub = null;
      this._sub = null;
      destroyClient(pub);
      destroyClient(sub);
      throw firstError ?? error;
    }
    everReady = true;
  }

  /** @internal Both connections are ready again: subscribe what the library lost track of, then report. */
  private _maybeLinkUp(): void {
    const pub = this._pub;
    const sub = this._sub;
    if (this.state !== 'reconnecting' || pub === null || sub === null || !pub.isReady || !sub.isReady) return;
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
    const clients = [this._pub, this._sub];
    this._pub = null;
    this._sub = null;
    await Promise.all(clients.map((client) => (client === null ? undefined : closeClient(client))));
  }

  protected _brokerSubscribe(topic: string): void {
    if (this._sub !== null) void this._track(this._sub.subscribe(this.channel(topic), this._onMessage, true), 'subscribe', topic);
  }

  protected _brokerUnsubscribe(topic: string): void {
    if (this._sub !== null) void this._track(this._sub.unsubscribe(this.channel(topic), this._onMessage, true), 'unsubscribe', topic);
  }

  protected _brokerPublish(topic: string, message: Buffer): boolean {
    if (this._pub === null) throw new Error('not connected');
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
    this._pub.sendCommand(['PUBLISH', this.channel(topic), message], PUBLISH_OPTIONS).then(
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

function checkRedisUrl(url: unknown): void {
  if (typeof url !== 'string') throw new TypeError('Invalid Redis url: expected a string such as redis://127.0.0.1:6379');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Invalid Redis url: ${url} (expected redis://host:port or rediss://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`Invalid Redis url: ${url} (the scheme must be redis: or rediss:)`);
  }
}

async function closeClient(client: RedisClient): Promise<void> {
  try {
    if (!client.isReady) destroyClient(client);
    else if (typeof client.close === 'function') await client.close();
    else if (typeof client.quit === 'function') await client.quit();
    else destroyClient(client);
  } catch {
    destroyClient(client);
  }
}

function destroyClient(client: RedisClient): void {
  try {
    if (typeof client.destroy === 'function') client.destroy();
    else void client.disconnect?.().catch(() => undefined);
  } catch {
    // Already closed.
  }
}
