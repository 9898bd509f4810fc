// RedisLink: a node's one link to Redis, shared by everything on the node that needs Redis (the broker
// adapter, the relay's history, the documents' store), with one link state and one reconnect policy.
//
// A link is two connections, because Redis's protocol requires it: a connection that has subscribed is
// in subscribe mode and may only run (P|S)SUBSCRIBE, UNSUBSCRIBE, PING and QUIT, so pub/sub messages
// come in on `subscriber` and every command (PUBLISH, scripts, streams) goes out on `command`. The
// `command` connection has no offline queue: while the link is down a command fails at once (its caller
// is told) instead of waiting without bound. The `redis` package is loaded on connect().
import { hidePassword, loadPeer } from './broker-adapter.js';
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECONNECT_DELAY, reconnectDelay, SharedLink } from './link.js';

export type RedisMessageListener = (message: Buffer, channel: Buffer) => void;

/** The part of a node-redis client the link's users call. */
export interface RedisClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(channels: string, listener: RedisMessageListener, bufferMode: true): Promise<void>;
  unsubscribe(channels: string, listener: RedisMessageListener, bufferMode: true): Promise<void>;
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

export interface RedisLinkOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Longest wait between two attempts to reconnect, in ms (default 1000). */
  reconnectDelay?: number;
  /** How long the first connection may take, in ms (default 5000). */
  connectTimeout?: number;
  /**
   * More options for the `redis` package's createClient (TLS, credentials, ...), for both connections.
   * The link sets `url`, `socket.reconnectStrategy`, `socket.connectTimeout` and, for the command
   * connection, `disableOfflineQueue` itself.
   */
  clientOptions?: Record<string, unknown>;
}

export class RedisLink extends SharedLink {
  /** @internal */
  private readonly _rawUrl: string;
  /** @internal */
  private readonly _options: RedisLinkOptions;
  /** @internal */
  private _command: RedisClient | null = null;
  /** @internal */
  private _subscriber: RedisClient | null = null;

  constructor(options: RedisLinkOptions = {}) {
    const url = options.url ?? DEFAULT_REDIS_URL;
    checkRedisUrl(url);
    if (options.clientOptions !== undefined && (options.clientOptions === null || typeof options.clientOptions !== 'object')) {
      throw new TypeError('Invalid clientOptions: expected an object of options for createClient');
    }
    super('Redis', hidePassword(url));
    this._rawUrl = url;
    this._options = options;
  }

  /** The connection for commands (PUBLISH, scripts, streams). Throws when the link is not open. */
  get command(): RedisClient {
    if (this._command === null) throw this._notOpen();
    return this._command;
  }

  /** The connection in subscribe mode. Throws when the link is not open. */
  get subscriber(): RedisClient {
    if (this._subscriber === null) throw this._notOpen();
    return this._subscriber;
  }

  /** @internal */
  protected async _hangUp(): Promise<void> {
    const clients = [this._command, this._subscriber];
    this._command = null;
    this._subscriber = null;
    await Promise.all(clients.map((client) => (client === null ? undefined : closeClient(client))));
  }

  /** @internal */
  protected async _dial(user: string): Promise<void> {
    const redis = await loadPeer<RedisModule>('redis', user);
    let everReady = false;
    let firstError: unknown = null;
    const clientOptions = this._options.clientOptions ?? {};
    const socketOptions = (clientOptions.socket as Record<string, unknown> | undefined) ?? {};
    const maxDelay = this._options.reconnectDelay ?? DEFAULT_RECONNECT_DELAY;
    const options = (extra: Record<string, unknown>) => ({
      ...clientOptions,
      ...extra,
      url: this._rawUrl,
      socket: {
        ...socketOptions,
        connectTimeout: this._options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
        // Before the first connection: give up at once, so that open() fails with a clear error.
        // After it: retry for as long as the link is open.
        reconnectStrategy: (retries: number, cause: unknown) =>
          everReady ? reconnectDelay(retries, maxDelay) : cause instanceof Error ? cause : new Error(String(cause)),
      },
    });
    const command = redis.createClient(options({ disableOfflineQueue: true }));
    const subscriber = redis.createClient(options({}));
    for (const client of [command, subscriber]) {
      // node-redis emits 'error' for every failed attempt; without a listener that would throw.
      client.on('error', (error: unknown) => {
        firstError ??= error;
        if (everReady && !client.isReady) this._down(error);
      });
      client.on('reconnecting', () => {
        if (everReady) this._down(new Error('connection lost'));
      });
      client.on('ready', () => {
        if (everReady && command.isReady && subscriber.isReady && this.state === 'reconnecting') this._setState('connected');
      });
    }
    this._command = command;
    this._subscriber = subscriber;
    try {
      await Promise.all([command.connect(), subscriber.connect()]);
    } catch (error) {
      this._command = null;
      this._subscriber = null;
      destroyClient(command);
      destroyClient(subscriber);
      throw firstError ?? error;
    }
    everReady = true;
  }

  /** @internal */
  private _down(cause: unknown): void {
    if (this.state === 'connected') this._setState('reconnecting', cause);
  }
}

export function checkRedisUrl(url: unknown): void {
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
