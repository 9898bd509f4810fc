// The state of a node's link to its broker, one for every part that uses the link (adapter, history,
// documents), and the reconnection backoff the links share.
import { backoffDelay } from '../v1/backoff.js';

/**
 * - `idle`: made, not connected yet
 * - `connecting`: the first connection is under way
 * - `connected`: the broker answers
 * - `reconnecting`: the link was lost; it is being made again (what needs the broker fails meanwhile)
 * - `closed`: closed for good
 */
export type LinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What every link (RedisLink, NatsLink) tells of itself. */
export interface BrokerLink {
  /** The broker's URL, passwords hidden. */
  readonly url: string;
  readonly state: LinkState;
}

/**
 * What RedisLink and NatsLink share: the state and its listeners, and the count of users: the first
 * open() connects, every user closes once, and the last close() hangs up.
 */
export abstract class SharedLink implements BrokerLink {
  /** @internal */
  private _state: LinkState = 'idle';
  /** @internal */
  private _connecting: Promise<void> | null = null;
  /** @internal */
  private _users = 0;
  /** @internal */
  private readonly _stateListeners = new Set<(state: LinkState, cause?: unknown) => void>();

  /** @internal 'Redis' or 'NATS', for messages. */
  private readonly _broker: string;

  protected constructor(
    broker: string,
    /** The broker's URL, passwords hidden. */
    readonly url: string,
  ) {
    this._broker = broker;
  }

  get state(): LinkState {
    return this._state;
  }

  /** Called on every change of state, with the error behind a loss. */
  onState(listener: (state: LinkState, cause?: unknown) => void): () => void {
    this._stateListeners.add(listener);
    return () => this._stateListeners.delete(listener);
  }

  /**
   * Opens the link for one more user (each user calls close() once when done; the last closes it). The
   * first call connects: it rejects with the underlying error when the broker cannot be reached, and may
   * be tried again. `user` names who needs the broker's client package if it is missing.
   */
  async open(user: string): Promise<void> {
    if (this._state === 'closed') throw new Error(`The ${this._broker} link to ${this.url} is closed`);
    this._users++;
    try {
      await this._connect(user);
    } catch (error) {
      this._users--;
      throw error;
    }
  }

  /** One user is done with the link; the last one hangs up. */
  async close(): Promise<void> {
    if (this._users > 0) this._users--;
    if (this._users > 0 || this._state === 'closed') return;
    if (this._connecting !== null) await this._connecting.catch(() => undefined);
    const wasUp = this._state === 'connected';
    this._setState('closed');
    await this._hangUp(wasUp);
  }

  /** @internal Connects the client library (rejects with the underlying error). */
  protected abstract _dial(user: string): Promise<void>;
  /** @internal Closes the client library's connections (`wasUp`: they were connected). Must not reject. */
  protected abstract _hangUp(wasUp: boolean): Promise<void>;

  /** @internal The error for a use of a link that is not open. */
  protected _notOpen(): Error {
    return new Error(`The ${this._broker} link to ${this.url} is ${this._state}`);
  }

  /** @internal */
  protected _setState(state: LinkState, cause?: unknown): void {
    if (this._state === state) return;
    this._state = state;
    for (const listener of [...this._stateListeners]) listener(state, cause);
  }

  /** @internal */
  private _connect(user: string): Promise<void> {
    if (this._connecting !== null) return this._connecting;
    if (this._state !== 'idle') return Promise.resolve();
    this._setState('connecting');
    this._connecting = this._dial(user).then(
      () => {
        this._connecting = null;
        this._setState('connected');
      },
      (error: unknown) => {
        this._connecting = null;
        if (this._state === 'connecting') this._setState('idle');
        throw error;
      },
    );
    return this._connecting;
  }
}

/** Longest wait between two attempts to reconnect, in ms, unless set. */
export const DEFAULT_RECONNECT_DELAY = 1000;
/** How long a first connection may take, in ms, unless set. */
export const DEFAULT_CONNECT_TIMEOUT = 5000;

/** The wait before reconnect attempt `attempt` (0, 1, ...): doubles from 50 ms up to `max`, the later half of it random. */
export function reconnectDelay(attempt: number, max: number): number {
  return backoffDelay(attempt, Math.random(), { initial: Math.min(50, max), max, factor: 2, jitter: 0.5 });
}

/** The worse of several states (for a node whose parts share one link, the one to report). */
export function worstState(states: LinkState[]): LinkState {
  for (const state of ['closed', 'reconnecting', 'connecting', 'idle'] as const) if (states.includes(state)) return state;
  return 'connected';
}
