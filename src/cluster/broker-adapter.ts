// What the Redis and NATS adapters share: the state of the link to the broker, the topics this node is
// subscribed to there, the node id that tags its messages, the wire format, counters, events and log
// lines. A subclass only talks to its broker's client library.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ClusterAdapter, ClusterNode, ClusterStamp } from '../server/cluster-hook.js';
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECONNECT_DELAY, type BrokerLink, type LinkState } from './link.js';
import { checkTopic, decodeMessage, encodeMessage, messageBytes, NODE_ID_BYTES } from './wire.js';

/** The adapter's link state (the one LinkState of cluster/link.ts): `idle` until `connect()` is called. */
export type AdapterState = LinkState;

export type AdapterLogLevel = 'info' | 'warn' | 'error';
/** Receives the adapter's log lines (connection lost, reconnected, malformed messages, errors). */
export type AdapterLog = (level: AdapterLogLevel, message: string) => void;

export interface BrokerAdapterOptions {
  /** Longest wait between two attempts to reconnect, in ms (default 1000). */
  reconnectDelay?: number;
  /** How long `connect()` may take, in ms, before it fails (default 5000). */
  connectTimeout?: number;
  /** Called with each log line; by default the adapter logs nothing (use the events and `stats`). */
  log?: AdapterLog;
  /**
   * Most bytes of publishes the broker has not yet confirmed (default 64 MiB). Past it (a broker much
   * slower than the publishers, or a link that hangs without failing), publishes stay on this node and
   * count as dropped, so the memory they hold is bounded.
   */
  maxPendingBytes?: number;
}

/** Counters for a metrics endpoint. They only grow. */
export interface AdapterStats {
  /** Messages sent to the broker. */
  published: number;
  /** Messages from other nodes handed to the server for its local subscribers. */
  received: number;
  /** Publishes that were not carried to other nodes (the link was down, or the broker refused them); they were still delivered locally. */
  dropped: number;
  /** Messages from the broker that were not in the wire format, and were ignored. */
  malformed: number;
  /** Times the link to the broker was lost. */
  disconnects: number;
  /** Times it came back, with every topic subscribed again. */
  reconnects: number;
  /** Errors the broker or the client library reported for a subscribe, unsubscribe or publish. */
  errors: number;
}

export interface ReconnectInfo {
  /** How long the link was down, in ms. */
  downtime: number;
  /** Publishes in that time that stayed local. */
  dropped: number;
}

export { DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECONNECT_DELAY };
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface BrokerAdapter {
  /** The link was lost. Local clients are served meanwhile; publishes are not carried until 'reconnected'. */
  on(event: 'disconnected', listener: (error: Error) => void): this;
  /** The link is back and every topic with local subscribers is subscribed again. */
  on(event: 'reconnected', listener: (info: ReconnectInfo) => void): this;
  /** A log line (also passed to the `log` option). */
  on(event: 'log', listener: (level: AdapterLogLevel, message: string) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'disconnected', listener: (error: Error) => void): this;
  once(event: 'reconnected', listener: (info: ReconnectInfo) => void): this;
  once(event: 'log', listener: (level: AdapterLogLevel, message: string) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export abstract class BrokerAdapter extends EventEmitter implements ClusterAdapter {
  /** This node's id (16 hex digits), carried in every message it publishes. */
  readonly nodeId: string;
  readonly stats: AdapterStats = { published: 0, received: 0, dropped: 0, malformed: 0, disconnects: 0, reconnects: 0, errors: 0 };
  /** The broker's URL, with any password hidden. */
  readonly url: string;
  /** The link to the broker the adapter works on (its own, or one shared by the node's users of the broker). */
  abstract readonly link: BrokerLink;

  protected readonly _reconnectDelay: number;
  protected readonly _connectTimeout: number;
  protected readonly _maxPendingBytes: number;
  /** The topics that have local subscribers, and so are (or are to be) subscribed on the broker. */
  protected readonly _topics = new Set<string>();

  /** @internal */
  private readonly _nodeIdBytes: Buffer;
  /** @internal */
  private readonly _logOption: AdapterLog | undefined;
  /** @internal */
  private _state: AdapterState = 'idle';
  /** @internal */
  private _node: ClusterNode | null = null;
  /** @internal */
  private _connecting: Promise<void> | null = null;
  /** @internal */
  private _downSince = 0;
  /** @internal */
  private _droppedAtDown = 0;

  protected constructor(
    /** 'Redis' or 'NATS', for messages. */
    protected readonly _brokerName: string,
    url: string,
    options: BrokerAdapterOptions,
  ) {
    super();
    this._reconnectDelay = positiveOption('reconnectDelay', options.reconnectDelay, DEFAULT_RECONNECT_DELAY);
    this._connectTimeout = positiveOption('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT);
    this._maxPendingBytes = positiveOption('maxPendingBytes', options.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES, 'bytes');
    if (options.log !== undefined && typeof options.log !== 'function')
      throw new TypeError('Invalid log option: expected a function (level, message) => void');
    this._logOption = options.log;
    this.url = hidePassword(url);
    this._nodeIdBytes = randomBytes(NODE_ID_BYTES);
    this.nodeId = this._nodeIdBytes.toString('hex');
  }

  get state(): AdapterState {
    return this._state;
  }

  /** The topics this node is subscribed to on the broker (those with local subscribers). */
  get topics(): string[] {
    return [...this._topics];
  }

  /**
   * Connects to the broker. Rejects, naming the URL, when it cannot be reached within `connectTimeout`
   * (`Cannot reach Redis at redis://127.0.0.1:6390: ECONNREFUSED`); the adapter can then be connected
   * again. Once connected, the client library reconnects by itself for as long as the adapter is open.
   */
  connect(): Promise<void> {
    if (this._state === 'closed') return Promise.reject(new Error(`This ${this._brokerName} adapter is closed`));
    if (this._connecting !== null) return this._connecting;
    if (this._state !== 'idle') return Promise.resolve();
    this._state = 'connecting';
    this._connecting = this._open().then(
      () => {
        this._connecting = null;
        if (this._state !== 'connecting') return; // closed meanwhile
        this._state = 'connected';
        for (const topic of this._topics) this._brokerSubscribe(topic);
        this._log('info', `Connected to ${this._brokerName} at ${this.url} as node ${this.nodeId}`);
      },
      (error: unknown) => {
        this._connecting = null;
        if (this._state === 'connecting') this._state = 'idle';
        if ((error as { code?: unknown } | null)?.code === MISSING_PEER) throw error;
        const reason = describeError(error);
        const wrapped = new Error(`Cannot reach ${this._brokerName} at ${this.url}: ${reason}`, { cause: error });
        (wrapped as Error & { code: string }).code = 'WAVECAST_BROKER_UNREACHABLE';
        throw wrapped;
      },
    );
    return this._connecting;
  }

  /** Unsubscribes, lets what was published go out, and closes the link. Safe to call more than once. */
  async close(): Promise<void> {
    if (this._state === 'closed') return;
    const wasOpen = this._state !== 'idle';
    this._state = 'closed';
    this._node = null;
    if (this._connecting !== null) await this._connecting.catch(() => undefined);
    if (wasOpen) await this._shut();
  }

  /**
   * Resolves once the broker has taken every subscribe and unsubscribe made so far (and, on NATS,
   * every publish). After `socket.subscribe(topic)` and `await adapter.synced()`, messages other
   * nodes publish to `topic` reach this node. While reconnecting, waits for the link to come back.
   */
  async synced(): Promise<void> {
    if (this._state === 'reconnecting') await new Promise((resolve) => this.once('reconnected', resolve));
    if (this._state !== 'connected') throw new Error(`The ${this._brokerName} adapter is ${this._state}, not connected`);
    await this._brokerSynced();
  }

  // ---------------------------------------------------------------- ClusterAdapter (called by the server)

  attach(node: ClusterNode): void {
    if (this._state !== 'connected' && this._state !== 'reconnecting') {
      throw new Error(`The ${this._brokerName} adapter is ${this._state}: await adapter.connect() before giving it to a WebSocketServer`);
    }
    if (this._node !== null && this._node !== node) {
      throw new Error(`This ${this._brokerName} adapter is already used by another WebSocketServer; give each server its own adapter`);
    }
    this._node = node;
  }

  detach(node: ClusterNode): void {
    if (this._node === node) this._node = null;
  }

  subscribe(topic: string): void {
    checkTopic(topic);
    if (this._topics.has(topic)) return;
    this._topics.add(topic);
    if (this._state === 'connected' || this._state === 'reconnecting') this._brokerSubscribe(topic);
  }

  unsubscribe(topic: string): void {
    if (!this._topics.delete(topic)) return;
    if (this._state === 'connected' || this._state === 'reconnecting') this._brokerUnsubscribe(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): void {
    const topicBytes = checkTopic(topic);
    const bytes = messageBytes(topicBytes, payload.length, stamp);
    this._checkMessageSize(bytes);
    if (this._state !== 'connected') {
      this.stats.dropped++;
      return;
    }
    const message = encodeMessage(this._nodeIdBytes, topic, topicBytes, payload, binary, stamp, bytes);
    try {
      if (this._brokerPublish(topic, message)) this.stats.published++;
      else this.stats.dropped++;
    } catch (error) {
      this._publishFailed(error);
    }
  }

  // ---------------------------------------------------------------- for subclasses

  /** Connects the client library (rejects with the underlying error; connect() words the message). */
  protected abstract _open(): Promise<void>;
  /** Closes the client library's connections. Must not reject. */
  protected abstract _shut(): Promise<void>;
  protected abstract _brokerSubscribe(topic: string): void;
  protected abstract _brokerUnsubscribe(topic: string): void;
  /**
   * Sends one message (never called while the link is down). Returns false when it was not sent on
   * purpose (a bound was reached; the subclass has said so in the log); throws when sending failed.
   */
  protected abstract _brokerPublish(topic: string, message: Buffer): boolean;
  protected abstract _brokerSynced(): Promise<void>;

  /** Throws a RangeError for a message the broker would refuse (by default, none). */
  protected _checkMessageSize(_bytes: number): void {}

  /** A message from the broker: decoded, and delivered to local subscribers unless this node sent it. */
  protected _receive(message: Uint8Array): void {
    const decoded = decodeMessage(message);
    if (typeof decoded === 'string') {
      this.stats.malformed++;
      this._log('warn', `Ignored a message from ${this._brokerName} that is not in Wavecast's wire format: ${decoded}`);
      return;
    }
    if (decoded.nodeId.equals(this._nodeIdBytes)) return;
    const node = this._node;
    if (node === null || this._state === 'closed') return;
    this.stats.received++;
    try {
      node.deliver(decoded.topic, decoded.payload, decoded.binary, decoded.stamp);
    } catch (error) {
      this._log('error', `Delivering a message on ${JSON.stringify(decoded.topic)} failed: ${describeError(error)}`);
    }
  }

  /** The link is down (idempotent: only the first report of an outage counts). */
  protected _linkDown(cause: unknown): void {
    if (this._state !== 'connected') return;
    this._state = 'reconnecting';
    this.stats.disconnects++;
    this._downSince = Date.now();
    this._droppedAtDown = this.stats.dropped;
    const error = cause instanceof Error ? cause : new Error(String(cause));
    this._log(
      'warn',
      `Lost the connection to ${this._brokerName} at ${this.url} (${describeError(error)}); reconnecting. Local clients are served meanwhile, but publishes stay on this node until the link is back`,
    );
    this.emit('disconnected', error);
  }

  /** The link is back and every topic in `_topics` is subscribed again. */
  protected _linkUp(): void {
    if (this._state !== 'reconnecting') return;
    this._state = 'connected';
    this.stats.reconnects++;
    const info: ReconnectInfo = { downtime: Date.now() - this._downSince, dropped: this.stats.dropped - this._droppedAtDown };
    this._log(
      'info',
      `Reconnected to ${this._brokerName} at ${this.url} after ${info.downtime} ms; ${this._topics.size} topic(s) subscribed again; ${info.dropped} publish(es) stayed local meanwhile`,
    );
    this.emit('reconnected', info);
  }

  /** A subscribe or unsubscribe the broker did not take. */
  protected _subscriptionFailed(action: string, topic: string, error: unknown): void {
    if (this._state === 'closed') return;
    this.stats.errors++;
    this._log('error', `${this._brokerName} ${action} of ${JSON.stringify(topic)} failed: ${describeError(error)}`);
  }

  /** Logs, once until publishes fit again, that maxPendingBytes was reached. */
  protected _pendingLimitReached(): void {
    this._log(
      'warn',
      `Over ${this._maxPendingBytes} bytes of publishes wait for ${this._brokerName} to acknowledge them; publishes stay on this node until it catches up`,
    );
  }

  /** A publish the broker did not take (counted as dropped). */
  protected _publishFailed(error: unknown): void {
    if (this._state === 'closed') return;
    this.stats.dropped++;
    // While the link is down, failures are expected (and 'disconnected' said so); count them quietly.
    if (this._state !== 'connected') return;
    this.stats.errors++;
    this._log('error', `Publishing to ${this._brokerName} failed: ${describeError(error)}`);
  }

  protected _log(level: AdapterLogLevel, message: string): void {
    if (this._logOption !== undefined) {
      try {
        this._logOption(level, message);
      } catch {
        // A failing logger must not break the adapter.
      }
    }
    if (this.listenerCount('log') > 0) this.emit('log', level, message);
  }
}

const MISSING_PEER = 'WAVECAST_MISSING_PEER';

/** Loads an optional peer dependency, or says how to install it (an error with code WAVECAST_MISSING_PEER). */
export async function loadPeer<T>(name: string, adapter: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      const missing = new Error(`${adapter} needs the '${name}' package, an optional peer dependency of wavecast: npm install ${name}`, {
        cause: error,
      });
      (missing as Error & { code: string }).code = MISSING_PEER;
      throw missing;
    }
    throw error;
  }
}

/** The most telling short reason for an error: a system code such as ECONNREFUSED when there is one. */
export function describeError(error: unknown, depth = 0): string {
  if (!(error instanceof Error)) return String(error);
  const found = findSystemCode(error, 0);
  if (found !== null) return found;
  if (depth < 3 && error.cause !== undefined && error.message === '') return describeError(error.cause, depth + 1);
  return error.message || error.name;
}

function findSystemCode(error: unknown, depth: number): string | null {
  if (depth > 4 || error === null || typeof error !== 'object') return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code)) return code;
  // `cause` (standard), `errors` (AggregateError), `chainedError` (nats.js), `socketError` (node-redis).
  const { cause, errors, chainedError, socketError } = error as {
    cause?: unknown;
    errors?: unknown;
    chainedError?: unknown;
    socketError?: unknown;
  };
  const nested = [cause, chainedError, socketError, ...(Array.isArray(errors) ? errors : [])];
  for (const inner of nested) {
    const found = findSystemCode(inner, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** A URL as it may be shown in a message: its password replaced with ***. */
export function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function positiveOption(name: string, value: unknown, fallback: number, unit = 'ms'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Invalid ${name}: ${String(value)} (expected a number of ${unit} above 0)`);
  }
  return value;
}
