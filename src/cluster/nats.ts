// NatsAdapter: carries publish() between nodes through NATS core subjects, with the `nats` package,
// loaded only when connect() is called so that wavecast itself never needs it. Import from
// 'wavecast/nats'.
//
// It works on a NatsLink (nats-link.ts): its own, or the one the node shares with its other users of
// NATS (one connection, with `noEcho`). Each topic with local subscribers is one subject,
// `prefix.<token>`, where the token is the topic with every byte outside [A-Za-z0-9_-] written as %XX
// (so '.', '*', '>' and spaces in a topic mean nothing to NATS; the empty topic is '%'). The client
// library reconnects and sends its subscriptions again by itself; after a flush confirms the server has
// them, we report 'reconnected'.
import { BrokerAdapter, hidePassword, type BrokerAdapterOptions } from './broker-adapter.js';
import type { LinkState } from './link.js';
import { checkNatsUrls, DEFAULT_NATS_URL, NatsLink, type NatsStatus } from './nats-link.js';

export { DEFAULT_NATS_URL, NatsLink, type NatsLinkOptions } from './nats-link.js';

export interface NatsAdapterOptions extends BrokerAdapterOptions {
  /** `nats://host:port` (or `tls://`), or several for a NATS cluster (default `nats://127.0.0.1:4222`). */
  url?: string | string[];
  /** The first tokens of each subject (default `wavecast`). Nodes that talk share it. */
  prefix?: string;
  /**
   * More options for the `nats` package's connect() (credentials, TLS, ...). The adapter sets
   * `servers`, `noEcho`, `reconnect`, `maxReconnectAttempts`, `reconnectDelayHandler`, `timeout` and
   * `waitOnFirstConnect` itself. Not with `link`.
   */
  clientOptions?: Record<string, unknown>;
  /**
   * A link to NATS shared with the node's other users of NATS (the relay's history and documents): the
   * adapter then opens no connection of its own, and `url`, `reconnectDelay`, `connectTimeout` and
   * `clientOptions` are the link's.
   */
  link?: NatsLink;
}

interface NatsSubscription {
  unsubscribe(): void;
}

interface NatsMessage {
  readonly data: Uint8Array;
}

/** The part of a nats.js connection the adapter uses. */
interface NatsConnection {
  readonly info?: { max_payload?: number };
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, options: { callback: (error: Error | null, message: NatsMessage) => void }): NatsSubscription;
  flush(): Promise<void>;
}

export class NatsAdapter extends BrokerAdapter {
  readonly prefix: string;
  /** The link the adapter works on. */
  readonly link: NatsLink;
  /** @internal */
  private _nc: NatsConnection | null = null;
  /** @internal */
  private _unwatch: Array<() => void> = [];
  /** @internal */
  private readonly _subscriptions = new Map<string, NatsSubscription>();
  /** @internal */
  private _maxPayload = Infinity;
  /** @internal Between a 'disconnect' and the next 'reconnect' status. */
  private _linkLost = false;
  // Publishes the server has not confirmed: NATS does not acknowledge a publish, but it answers a flush
  // (PING) after everything sent before it. Every `_flushEvery` bytes a flush is sent; what it answers for
  // is confirmed. A link that hangs leaves bytes unconfirmed, up to maxPendingBytes.
  /** @internal */
  private _sentBytes = 0;
  /** @internal */
  private _confirmedBytes = 0;
  /** @internal */
  private _flushing = false;
  /** @internal */
  private _flushEpoch = 0;
  /** @internal */
  private _overLimit = false;
  /** @internal */
  private readonly _flushEvery: number;

  constructor(options: NatsAdapterOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('NatsAdapter options must be an object');
    const url =
      options.link?.url ??
      checkNatsUrls(options.url ?? DEFAULT_NATS_URL)
        .map(hidePassword)
        .join(',');
    super('NATS', url, options);
    this.link =
      options.link ??
      new NatsLink({
        url: options.url ?? DEFAULT_NATS_URL,
        name: `wavecast-${this.nodeId}`,
        reconnectDelay: this._reconnectDelay,
        connectTimeout: this._connectTimeout,
        ...(options.clientOptions !== undefined ? { clientOptions: options.clientOptions } : {}),
      });
    this.prefix = options.prefix ?? 'wavecast';
    if (typeof this.prefix !== 'string' || !SUBJECT_PREFIX.test(this.prefix)) {
      throw new TypeError(
        `Invalid prefix: ${String(this.prefix)} (expected NATS subject tokens such as 'wavecast' or 'app.ws', without spaces, '*' or '>')`,
      );
    }
    this._flushEvery = Math.max(1, Math.min(this._maxPendingBytes / 4, 1024 * 1024));
  }

  /** The NATS subject that carries `topic`. */
  subject(topic: string): string {
    return `${this.prefix}.${subjectToken(topic)}`;
  }

  protected async _open(): Promise<void> {
    await this.link.open('NatsAdapter');
    const nc = this.link.connection<NatsConnection>();
    this._nc = nc;
    this._maxPayload = nc.info?.max_payload ?? Infinity;
    this._unwatch = [
      this.link.onState((state, cause) => this._linkState(nc, state, cause)),
      this.link.onStatus((status) => this._status(status)),
    ];
  }

  /** @internal */
  private _linkState(nc: NatsConnection, state: LinkState, cause: unknown): void {
    if (this._nc !== nc) return;
    if (state === 'reconnecting') {
      this._linkLost = true;
      this._linkDown(cause);
    } else if (state === 'connected') {
      this._linkLost = false;
      // What was unconfirmed on the old connection is gone or resent; count afresh.
      this._flushEpoch++;
      this._flushing = false;
      this._confirmedBytes = this._sentBytes;
      // The client has sent its subscriptions again; a flush round-trip confirms the server has them.
      nc.flush().then(
        () => {
          // Not if the link was lost again meanwhile: the next 'reconnect' will report.
          if (this._nc === nc && !this._linkLost) this._linkUp();
        },
        () => undefined,
      );
    } else if (state === 'closed' && this.state !== 'closed') {
      this._linkDown(cause);
      this._log(
        'error',
        `The NATS connection at ${this.url} closed for good${cause instanceof Error ? `: ${cause.message}` : ''}; close this adapter and make a new one`,
      );
    }
  }

  /** @internal */
  private _status(status: NatsStatus): void {
    if (status.type === 'error') {
      this.stats.errors++;
      this._log('error', `NATS reported: ${String(status.data)}`);
    } else if (status.type === 'ldm') {
      this._log('warn', `The NATS server at ${this.url} is entering lame duck mode; the client will move to another server`);
    }
  }

  protected async _shut(): Promise<void> {
    for (const unwatch of this._unwatch) unwatch();
    this._unwatch = [];
    const nc = this._nc;
    this._nc = null;
    // A shared link stays open for its other users: let go of this adapter's subjects first.
    for (const subscription of this._subscriptions.values()) {
      try {
        subscription.unsubscribe();
      } catch {
        // The connection is gone.
      }
    }
    this._subscriptions.clear();
    if (nc !== null && this.link.state === 'connected') await nc.flush().catch(() => undefined);
    await this.link.close();
  }

  protected _brokerSubscribe(topic: string): void {
    if (this._nc === null || this._subscriptions.has(topic)) return;
    try {
      const subscription = this._nc.subscribe(this.subject(topic), {
        callback: (error, message) => {
          if (error !== null) this._subscriptionFailed('subscription', topic, error);
          else this._receive(message.data);
        },
      });
      this._subscriptions.set(topic, subscription);
    } catch (error) {
      this._subscriptionFailed('subscribe', topic, error);
    }
  }

  protected _brokerUnsubscribe(topic: string): void {
    const subscription = this._subscriptions.get(topic);
    if (subscription === undefined) return;
    this._subscriptions.delete(topic);
    try {
      subscription.unsubscribe();
    } catch (error) {
      this._subscriptionFailed('unsubscribe', topic, error);
    }
  }

  protected _brokerPublish(topic: string, message: Buffer): boolean {
    const nc = this._nc;
    if (nc === null) throw new Error('not connected');
    const bytes = message.length;
    const pending = this._sentBytes - this._confirmedBytes;
    if (pending + bytes > this._maxPendingBytes && pending > 0) {
      if (!this._overLimit) {
        this._overLimit = true;
        this._pendingLimitReached();
      }
      return false;
    }
    this._overLimit = false;
    nc.publish(this.subject(topic), message);
    this._sentBytes += bytes;
    if (!this._flushing && this._sentBytes - this._confirmedBytes >= this._flushEvery) this._confirm(nc);
    return true;
  }

  /** @internal Sends a flush; its answer confirms everything published before it. */
  private _confirm(nc: NatsConnection): void {
    this._flushing = true;
    const epoch = this._flushEpoch;
    const mark = this._sentBytes;
    nc.flush().then(
      () => {
        if (this._nc !== nc || epoch !== this._flushEpoch) return;
        this._flushing = false;
        this._confirmedBytes = Math.max(this._confirmedBytes, mark);
        if (this._sentBytes - this._confirmedBytes >= this._flushEvery) this._confirm(nc);
      },
      () => {
        if (epoch === this._flushEpoch) this._flushing = false;
      },
    );
  }

  protected async _brokerSynced(): Promise<void> {
    await this._nc?.flush();
  }

  protected override _checkMessageSize(bytes: number): void {
    if (bytes > this._maxPayload) {
      throw new RangeError(
        `Message too large for NATS: ${bytes} bytes with the cluster header, and the server's max_payload is ${this._maxPayload}`,
      );
    }
  }
}

const SUBJECT_PREFIX = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const PLAIN = /^[A-Za-z0-9_-]+$/;

/** One subject token for a topic: bytes outside [A-Za-z0-9_-] as %XX; the empty topic as '%'. */
export function subjectToken(topic: string): string {
  if (topic === '') return '%';
  if (PLAIN.test(topic)) return topic;
  let token = '';
  for (const byte of Buffer.from(topic, 'utf8')) {
    const plain =
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x5f || byte === 0x2d;
    token += plain ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}
