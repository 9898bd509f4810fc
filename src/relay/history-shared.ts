// What the shared history stores (Redis Streams, NATS JetStream) have in common beyond HistoryStore:
// a connection to open and close, a link state for /healthz and /metrics, and the same bounds (per channel).
import { randomBytes } from 'node:crypto';
import { describeError, hidePassword } from '../cluster/broker-adapter.js';
import type { LinkState } from '../cluster/link.js';
import {
  channelBounds,
  type ChannelBounds,
  type HistoryBounds,
  type HistoryRead,
  type HistoryStore,
  type StoredMessage,
} from './history.js';

export interface SharedHistoryOptions {
  /**
   * Per channel: most messages kept (0: none), longest kept (ms, 0: no age limit), most payload bytes;
   * the same for every channel, or each channel's own (its namespace's).
   */
  bounds: HistoryBounds | ChannelBounds;
  /** How long connect() may take (ms, default 5000). */
  connectTimeout?: number;
}

export interface SharedHistory extends HistoryStore {
  /** 'Redis' or 'NATS'. */
  readonly broker: string;
  /** The broker's URL, password hidden. */
  readonly url: string;
  readonly state: LinkState;
  append(channel: string, data: Buffer, binary: boolean, from?: string): Promise<StoredMessage>;
  read(channel: string, since: number): Promise<HistoryRead>;
  latest(channel: string): Promise<number>;
  /** Called when the link state changes. */
  onState(listener: (state: LinkState) => void): void;
  /** Connects and reads (or makes) the epoch; rejects naming the URL when the broker cannot be reached. */
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Deletes everything this store keeps under its prefix (tests). */
  wipe(): Promise<void>;
}

/** A fresh epoch, offered to the store; it is kept only if the store has none yet. */
export function newEpoch(): string {
  return randomBytes(6).toString('hex') + Date.now().toString(36);
}

/** The epoch, the link state and its listeners, and the URL, as both shared stores keep them. */
export abstract class SharedHistoryBase {
  readonly url: string;
  /** Each channel's bounds. */
  protected readonly _bounds: ChannelBounds;
  protected _epoch = '';
  protected _state: LinkState = 'idle';
  private readonly _listeners = new Set<(state: LinkState) => void>();

  protected constructor(
    /** 'Redis' or 'NATS'. */
    readonly broker: string,
    protected readonly _rawUrl: string,
    protected readonly _options: SharedHistoryOptions,
  ) {
    this.url = hidePassword(_rawUrl);
    this._bounds = channelBounds(_options.bounds);
  }

  get epoch(): string {
    return this._epoch;
  }

  get state(): LinkState {
    return this._state;
  }

  onState(listener: (state: LinkState) => void): void {
    this._listeners.add(listener);
  }

  protected _setState(state: LinkState): void {
    if (this._state === state || this._state === 'closed') return;
    this._state = state;
    for (const listener of this._listeners) listener(state);
  }

  /** The error connect() rejects with when the broker cannot be reached: it names the URL. */
  protected _unreachable(error: unknown): Error {
    const wrapped = new Error(`Cannot reach ${this.broker} at ${this.url}: ${describeError(error)}`, { cause: error });
    (wrapped as Error & { code: string }).code = 'WAVECAST_BROKER_UNREACHABLE';
    return wrapped;
  }
}
