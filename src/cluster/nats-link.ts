// NatsLink: a node's one connection to NATS, shared by everything on the node that needs NATS (the broker
// adapter's subjects, the relay's JetStream history, the documents' stream), with one link state and one
// reconnect policy (link.ts's backoff). The `nats` package is loaded on open().
//
// The connection has `noEcho`: the server does not send the node its own core publishes back (the
// adapter's node id would catch them anyway). JetStream acknowledgements and consumer deliveries come
// from the server, so noEcho leaves them alone.
import { hidePassword, loadPeer } from './broker-adapter.js';
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECONNECT_DELAY, reconnectDelay, SharedLink } from './link.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** A status nats.js reports (disconnect, reconnect, error, ldm, ...). */
export interface NatsStatus {
  type: string;
  data: unknown;
}

/** The part of a nats.js connection the link itself uses; its users declare the parts they call. */
interface NatsConnection {
  status(): AsyncIterable<NatsStatus>;
  // biome-ignore lint/suspicious/noConfusingVoidType: the nats package declares it so
  closed(): Promise<void | Error>;
  isClosed(): boolean;
  drain(): Promise<void>;
  close(): Promise<void>;
}

interface NatsModule {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
}

export interface NatsLinkOptions {
  /** `nats://host:port` (or `tls://`), or several for a NATS cluster (default `nats://127.0.0.1:4222`). */
  url?: string | string[];
  /** Longest wait between two attempts to reconnect, in ms (default 1000). */
  reconnectDelay?: number;
  /** How long the first connection may take, in ms (default 5000). */
  connectTimeout?: number;
  /** The connection's name on the server (default `wavecast`). */
  name?: string;
  /**
   * More options for the `nats` package's connect() (credentials, TLS, ...). The link sets `servers`,
   * `noEcho`, `reconnect`, `maxReconnectAttempts`, `reconnectDelayHandler`, `timeout` and
   * `waitOnFirstConnect` itself.
   */
  clientOptions?: Record<string, unknown>;
}

export class NatsLink extends SharedLink {
  /** @internal */
  private readonly _servers: string[];
  /** @internal */
  private readonly _options: NatsLinkOptions;
  /** @internal */
  private _nc: NatsConnection | null = null;
  /** @internal */
  private _module: unknown = null;
  /** @internal Failed reconnect attempts since the link was last up (for the backoff). */
  private _attempts = 0;
  /** @internal */
  private readonly _statusListeners = new Set<(status: NatsStatus) => void>();

  constructor(options: NatsLinkOptions = {}) {
    const servers = checkNatsUrls(options.url ?? DEFAULT_NATS_URL);
    if (options.clientOptions !== undefined && (options.clientOptions === null || typeof options.clientOptions !== 'object')) {
      throw new TypeError('Invalid clientOptions: expected an object of options for connect()');
    }
    super('NATS', servers.map(hidePassword).join(','));
    this._servers = servers;
    this._options = options;
  }

  /** The nats.js connection, as the caller's interface of it. Throws when the link is not open. */
  connection<T>(): T {
    if (this._nc === null) throw this._notOpen();
    return this._nc as T;
  }

  /** The `nats` module (for `headers()`), once the link is open. */
  module<T>(): T {
    if (this._module === null) throw this._notOpen();
    return this._module as T;
  }

  /** Called with every status nats.js reports (errors, lame duck mode, ...). */
  onStatus(listener: (status: NatsStatus) => void): () => void {
    this._statusListeners.add(listener);
    return () => this._statusListeners.delete(listener);
  }

  /** @internal */
  protected async _hangUp(wasUp: boolean): Promise<void> {
    const nc = this._nc;
    this._nc = null;
    if (nc === null || nc.isClosed()) return;
    try {
      // drain() sends what is queued and unsubscribes; it needs a live link, so close() when there is none.
      if (wasUp) await nc.drain();
      else await nc.close();
    } catch {
      await nc.close().catch(() => undefined);
    }
  }

  /** @internal */
  protected async _dial(user: string): Promise<void> {
    const nats = await loadPeer<NatsModule>('nats', user);
    const maxDelay = this._options.reconnectDelay ?? DEFAULT_RECONNECT_DELAY;
    const nc = await nats.connect({
      name: this._options.name ?? 'wavecast',
      ...(this._options.clientOptions ?? {}),
      servers: this._servers,
      noEcho: true,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => reconnectDelay(this._attempts++, maxDelay),
      timeout: this._options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      waitOnFirstConnect: false,
    });
    this._module = nats;
    this._nc = nc;
    void this._watch(nc);
  }

  /** @internal Follows the connection's status until it closes. */
  private async _watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then((error) => {
      // With unlimited reconnects this only happens on a fatal error (such as an authorization one).
      if (this._nc === nc && this.state !== 'closed') this._setState('closed', error ?? new Error('the connection was closed'));
    });
    try {
      for await (const status of nc.status()) {
        if (this._nc !== nc) return;
        if (status.type === 'disconnect' && this.state === 'connected')
          this._setState('reconnecting', new Error(`disconnected from ${String(status.data)}`));
        else if (status.type === 'reconnect') {
          this._attempts = 0;
          if (this.state === 'reconnecting') this._setState('connected');
        }
        for (const listener of [...this._statusListeners]) listener(status);
      }
    } catch {
      // The status iterator ends with the connection.
    }
  }
}

export function checkNatsUrls(url: unknown): string[] {
  const list = Array.isArray(url) ? url : [url];
  if (list.length === 0) throw new TypeError('Invalid NATS url: the list is empty');
  for (const entry of list) {
    if (typeof entry !== 'string' || entry === '') throw new TypeError('Invalid NATS url: expected a string such as nats://127.0.0.1:4222');
    const withScheme = entry.includes('://') ? entry : `nats://${entry}`;
    let parsed: URL;
    try {
      parsed = new URL(withScheme);
    } catch {
      throw new TypeError(`Invalid NATS url: ${entry} (expected nats://host:port)`);
    }
    if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
      throw new TypeError(`Invalid NATS url: ${entry} (the scheme must be nats: or tls:)`);
    }
  }
  return list as string[];
}
