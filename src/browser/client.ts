// `wavecast/browser`: a client for the relay's wavecast.v1 subprotocol (docs/protocol.md) that survives
// bad networks. It wraps a WebSocket (the browser's, globalThis.WebSocket, or one passed in, such as
// wavecast's or ws's in Node), reconnects with exponential backoff and jitter, rejoins every channel
// `since` the last sequence number it handled (so nothing is lost or shown twice), queues publishes while
// offline (bounded, with a policy), and notices a dead connection with ping envelopes and a timeout.
// It imports nothing from Node: it runs in browsers. The envelopes are the wavecast.v1 module's.
import { V1_PROTOCOL, type ClientEnvelope, type GapReason, type JoinEnvelope, type PresenceInfo, type RequestId } from '../v1/protocol.js';
import { backoffDelay, type BackoffOptions } from '../v1/backoff.js';
import { OfflineQueue, type QueuePolicy } from './offline-queue.js';

export const PROTOCOL = V1_PROTOCOL;
export type { PresenceInfo };

/** What the client needs of a WebSocket (the browser's has it, and so do wavecast's and ws's). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols: string) => any;

/** idle: not started · connecting: first connection · open · reconnecting: waiting or retrying · closed: close() was called. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  /** The name others see in presence. */
  name?: string;
  /** The WebSocket class (default: globalThis.WebSocket). */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Most publishes held while offline (default 100) and what happens when full (default drop-oldest). */
  queueLimit?: number;
  queuePolicy?: QueuePolicy;
  /** Sends a ping envelope after this long without a message (ms, default 20000; 0: off). */
  pingInterval?: number;
  /** Drops the connection if nothing arrives this long after a ping (ms, default 10000). */
  pingTimeout?: number;
  /** Random numbers in [0, 1) for the jitter (tests). */
  random?: () => number;
  /** Starts connecting at once (default true). */
  autoConnect?: boolean;
}

export interface ChannelMessage {
  channel: string;
  seq: number;
  time: number;
  /** The text (base64 when binary). */
  data: string;
  binary: boolean;
  /** Whether it was sent during a recovery (it was missed while offline). */
  replayed: boolean;
  /**
   * The relay's id of the wavecast.v1 connection that published it (absent for plain clients and HTTP):
   * the message is this client's own if `from` is one of the `you` its `joined` events gave.
   */
  from?: string;
}

export interface GapInfo {
  channel: string;
  from: number;
  to: number;
  reason: GapReason;
  message: string;
}

/** Who is on a channel: the relay's presence (count and names) and the channel it is of. */
export interface ChannelPresence extends PresenceInfo {
  channel: string;
}

export interface ServerError {
  /** One of the relay's error codes (ErrorCode), as a string: a newer relay may send codes this client does not know. */
  code: string;
  message: string;
  id?: RequestId;
  channel?: string;
}

export interface ClientEvents {
  state: { state: ConnectionState; previous: ConnectionState; attempt: number; delay?: number; code?: number; reason?: string };
  message: ChannelMessage;
  /**
   * A channel is joined (again): `recovered` missed messages were delivered before this. `name` is the
   * name the relay gives this connection, when the relay sets names itself (absent: the one given here).
   */
  joined: { channel: string; seq: number; recovered: number; presence: ChannelPresence; rejoin: boolean; you?: string; name?: string };
  /** Messages that could not be recovered: reload what you show of the channel. */
  gap: GapInfo;
  /**
   * Who is on a channel, after each join or leave; under churn, after a summary of a second's joins and
   * leaves (`joined`, `left`) or a snapshot of everyone there; on a channel too large to list under heavy
   * churn, `more` counts changes the relay did not list (`names` may then be off; `count` is exact).
   * With users on, a join or leave carries the verified `user` id of who came or went.
   */
  presence: ChannelPresence & { event?: 'join' | 'leave'; name?: string; user?: string; joined?: string[]; left?: string[]; more?: number };
  /** A publish was dropped from the full offline queue. */
  dropped: { channel: string; data: string; id?: string | number };
  /** The relay stored a publish sent with an `id`: it has this sequence number on the channel. */
  ack: { id: string | number; channel: string; seq: number };
  error: ServerError;
}

type Listener<T> = (event: T) => void;

interface Joined {
  /** Last seq handled (undefined: none yet: join at the newest). */
  lastSeq: number | undefined;
  epoch: string | undefined;
  names: string[];
  /** Sequence numbers at or below this arrived as a replay. */
  replayUntil: number;
  everJoined: boolean;
}

interface Queued {
  channel: string;
  data: string;
  id?: string | number;
}

const OPEN = 1;

export class WavecastClient {
  private readonly _url: string;
  private readonly _options: ClientOptions;
  private readonly _WebSocket: WebSocketConstructor;
  private readonly _channels = new Map<string, Joined>();
  private readonly _queue: OfflineQueue<Queued>;
  private readonly _listeners = new Map<keyof ClientEvents, Set<Listener<never>>>();
  private _socket: WebSocketLike | null = null;
  private _state: ConnectionState = 'idle';
  private _attempt = 0;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _pingTimer: ReturnType<typeof setTimeout> | null = null;
  private _deadTimer: ReturnType<typeof setTimeout> | null = null;
  private _pingId = 0;
  private _lastHeard = 0;

  constructor(url: string, options: ClientOptions = {}) {
    this._url = url;
    this._options = options;
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined)
      throw new TypeError(
        'No WebSocket implementation: pass one as the WebSocket option (in Node 20: import { WebSocket } from "wavecast")',
      );
    this._WebSocket = ctor;
    this._queue = new OfflineQueue<Queued>(options.queueLimit ?? 100, options.queuePolicy ?? 'drop-oldest');
    if (options.autoConnect !== false) this.connect();
  }

  /** The connection's state; the `state` event tells each change. */
  get state(): ConnectionState {
    return this._state;
  }

  /** Publishes held while offline. */
  get queued(): number {
    return this._queue.size;
  }

  /** The last sequence number handled on a channel (undefined before any). */
  lastSeq(channel: string): number | undefined {
    return this._channels.get(channel)?.lastSeq;
  }

  /**
   * The epoch that channel's numbers belong to (from the relay's `joined`): give it with `since` to
   * another client's join, so that a relay that restarted in between cannot take old numbers for new.
   */
  epoch(channel: string): string | undefined {
    return this._channels.get(channel)?.epoch;
  }

  on<K extends keyof ClientEvents>(type: K, listener: Listener<ClientEvents[K]>): () => void {
    let set = this._listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this._listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => set!.delete(listener as Listener<never>);
  }

  private _emit<K extends keyof ClientEvents>(type: K, event: ClientEvents[K]): void {
    const set = this._listeners.get(type);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<ClientEvents[K]>)(event);
      } catch (error) {
        // A listener's error must not break the client: report it asynchronously.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  /**
   * Joins a channel (kept across reconnections). With `since`, messages after that sequence number are
   * recovered first; without it, only new messages come.
   */
  join(channel: string, options: { since?: number; epoch?: string } = {}): void {
    if (this._channels.has(channel)) return;
    this._channels.set(channel, { lastSeq: options.since, epoch: options.epoch, names: [], replayUntil: 0, everJoined: false });
    if (this._isOpen()) this._sendJoin(channel);
  }

  leave(channel: string): void {
    if (!this._channels.delete(channel)) return;
    if (this._isOpen()) this._send({ type: 'leave', channel });
  }

  /**
   * Publishes text on a joined channel. Offline, it is queued (see queuePolicy); returns false when it
   * was dropped at once (drop-newest on a full queue), and throws OfflineQueueFullError with `error`.
   * With an `id`, the relay answers with an `ack` event once the message is stored (or an `error` event
   * carrying the id if it was refused), whether it went out at once or from the offline queue.
   */
  publish(channel: string, data: string, options: { id?: string | number } = {}): boolean {
    const item: Queued = { channel, data };
    if (options.id !== undefined) item.id = options.id;
    if (this._isOpen()) {
      this._sendPublish(item);
      return true;
    }
    const dropped = this._queue.push(item).dropped;
    if (dropped !== undefined) {
      const event: ClientEvents['dropped'] = { channel: dropped.channel, data: dropped.data };
      if (dropped.id !== undefined) event.id = dropped.id;
      this._emit('dropped', event);
    }
    return dropped !== item;
  }

  private _sendPublish(item: Queued): void {
    this._send(
      item.id === undefined
        ? { type: 'publish', channel: item.channel, data: item.data }
        : { type: 'publish', channel: item.channel, data: item.data, id: item.id },
    );
  }

  /** Starts connecting (once; later calls do nothing unless the client was closed). */
  connect(): void {
    if (this._state !== 'idle' && this._state !== 'closed') return;
    this._open();
  }

  /** Reconnects now instead of waiting out the backoff (the browser came back online, say). */
  retryNow(): void {
    if (this._state !== 'reconnecting' || this._retryTimer === null) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._open();
  }

  /**
   * Treats the connection as lost now and reconnects after the backoff (the browser said it went
   * offline, say: a connection can take minutes to notice on its own).
   */
  drop(reason = 'Dropped by the application'): void {
    if (this._state !== 'open' && this._state !== 'connecting' && !(this._state === 'reconnecting' && this._socket !== null)) return;
    const socket = this._socket;
    if (socket !== null) {
      detach(socket);
      try {
        socket.close(4001, reason.slice(0, 100));
      } catch {
        // ignore
      }
    }
    this._dropped(1006, reason);
  }

  /** Closes for good (until connect() is called again). */
  close(): void {
    this._clearTimers();
    const socket = this._socket;
    this._socket = null;
    if (socket !== null) {
      detach(socket);
      try {
        socket.close(1000, 'Client closed');
      } catch {
        // already closed
      }
    }
    this._setState('closed', {});
  }

  private _isOpen(): boolean {
    return this._state === 'open' && this._socket !== null && this._socket.readyState === OPEN;
  }

  private _setState(state: ConnectionState, extra: { delay?: number; code?: number; reason?: string }): void {
    const previous = this._state;
    this._state = state;
    this._emit('state', { state, previous, attempt: this._attempt, ...extra });
  }

  private _open(): void {
    this._setState(this._attempt === 0 && this._state !== 'reconnecting' ? 'connecting' : 'reconnecting', {});
    let socket: WebSocketLike;
    try {
      socket = new this._WebSocket(this._url, PROTOCOL) as WebSocketLike;
    } catch (error) {
      this._dropped(1006, String((error as Error).message ?? error));
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      if (this._socket !== socket) return;
      this._attempt = 0;
      this._setState('open', {});
      for (const channel of this._channels.keys()) this._sendJoin(channel);
      for (const item of this._queue.drain()) this._sendPublish(item);
      this._alive();
    };
    socket.onmessage = (event) => {
      if (this._socket !== socket) return;
      this._alive();
      if (typeof event.data === 'string') this._envelope(event.data);
    };
    socket.onclose = (event) => {
      if (this._socket !== socket) return;
      this._dropped(event.code, event.reason);
    };
    socket.onerror = () => {
      // The close event follows with the code.
    };
  }

  /** The connection is gone (closed, failed, or found dead): retry after the backoff. */
  private _dropped(code: number, reason: string): void {
    this._clearTimers();
    const socket = this._socket;
    this._socket = null;
    if (socket !== null) detach(socket);
    if (this._state === 'closed') return;
    const delay = backoffDelay(this._attempt, (this._options.random ?? Math.random)(), this._options.backoff);
    this._attempt++;
    this._setState('reconnecting', { delay, code, reason });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._open();
    }, delay);
  }

  /**
   * Something arrived: the connection lives. One timer checks, every `pingInterval`, how long it has
   * been quiet (no timer is reset per message); quiet that long, it sends a ping envelope and waits
   * `pingTimeout` for anything at all.
   */
  private _alive(): void {
    const interval = this._options.pingInterval ?? 20_000;
    if (interval <= 0) return;
    this._lastHeard = Date.now();
    if (this._deadTimer !== null) {
      clearTimeout(this._deadTimer);
      this._deadTimer = null;
    }
    if (this._pingTimer === null) this._pingTimer = setTimeout(() => this._checkQuiet(interval), interval);
  }

  private _checkQuiet(interval: number): void {
    this._pingTimer = null;
    // Not open, or a ping is still waiting for its answer (the dead-connection timer decides).
    if (!this._isOpen() || this._deadTimer !== null) return;
    const quiet = Date.now() - this._lastHeard;
    if (quiet < interval) {
      this._pingTimer = setTimeout(() => this._checkQuiet(interval), interval - quiet);
      return;
    }
    this._deadTimer = setTimeout(() => {
      this._deadTimer = null;
      const socket = this._socket;
      if (socket !== null) {
        detach(socket);
        try {
          socket.close(4000, 'No answer to ping');
        } catch {
          // ignore
        }
      }
      this._dropped(1006, 'No answer to ping');
    }, this._options.pingTimeout ?? 10_000);
    // After the timer is set: whatever arrives from here on counts as the answer.
    this._send({ type: 'ping', id: ++this._pingId });
  }

  private _clearTimers(): void {
    for (const timer of [this._retryTimer, this._pingTimer, this._deadTimer]) if (timer !== null) clearTimeout(timer);
    this._retryTimer = this._pingTimer = this._deadTimer = null;
  }

  private _send(envelope: ClientEnvelope): void {
    this._socket?.send(JSON.stringify(envelope));
  }

  private _sendJoin(channel: string): void {
    const joined = this._channels.get(channel)!;
    const envelope: JoinEnvelope = { type: 'join', channel };
    if (this._options.name !== undefined) envelope.name = this._options.name;
    if (joined.lastSeq !== undefined) envelope.since = joined.lastSeq;
    if (joined.epoch !== undefined) envelope.epoch = joined.epoch;
    // Everything up to the relay's `joined` is a replay.
    joined.replayUntil = Number.MAX_SAFE_INTEGER;
    this._send(envelope);
  }

  private _envelope(text: string): void {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const channel = typeof e.channel === 'string' ? e.channel : '';
    const joined = this._channels.get(channel);
    switch (e.type) {
      case 'message': {
        if (joined === undefined) return;
        const seq = Number(e.seq);
        if (joined.lastSeq !== undefined && seq <= joined.lastSeq) return; // seen already
        joined.lastSeq = seq;
        const message: ChannelMessage = {
          channel,
          seq,
          time: Number(e.time),
          data: String(e.data),
          binary: e.binary === true,
          replayed: seq <= joined.replayUntil,
        };
        if (typeof e.from === 'string') message.from = e.from;
        this._emit('message', message);
        return;
      }
      case 'joined': {
        if (joined === undefined) return;
        const presence = e.presence as PresenceInfo;
        joined.lastSeq = Math.max(joined.lastSeq ?? 0, Number(e.seq));
        joined.epoch = String(e.epoch);
        joined.replayUntil = joined.lastSeq;
        joined.names = [...presence.names];
        const rejoin = joined.everJoined;
        joined.everJoined = true;
        const info: ChannelPresence = { channel, count: presence.count, names: [...joined.names] };
        const event: ClientEvents['joined'] = { channel, seq: joined.lastSeq, recovered: Number(e.recovered), presence: info, rejoin };
        if (typeof e.you === 'string') event.you = e.you;
        if (typeof e.name === 'string') event.name = e.name;
        this._emit('joined', event);
        this._emit('presence', info);
        return;
      }
      case 'gap': {
        if (joined === undefined) return;
        // After a reset the numbers start again: accept them from 0.
        if (e.reason === 'reset') joined.lastSeq = 0;
        this._emit('gap', {
          channel,
          from: Number(e.from),
          to: Number(e.to),
          reason: e.reason === 'reset' ? 'reset' : 'expired',
          message: String(e.message),
        });
        return;
      }
      case 'presence': {
        if (joined === undefined) return;
        if (Array.isArray(e.names)) {
          // A snapshot: everyone there now.
          joined.names = e.names.map(String).sort();
          this._emit('presence', { channel, count: Number(e.count), names: [...joined.names] });
          return;
        }
        if (Array.isArray(e.joined) && Array.isArray(e.left)) {
          const came = e.joined.map(String);
          const went = e.left.map(String);
          for (const name of went) {
            const i = joined.names.indexOf(name);
            if (i !== -1) joined.names.splice(i, 1);
          }
          joined.names.push(...came);
          joined.names.sort();
          const summary: ClientEvents['presence'] = { channel, count: Number(e.count), names: [...joined.names], joined: came, left: went };
          if (typeof e.more === 'number') summary.more = e.more;
          this._emit('presence', summary);
          return;
        }
        const name = String(e.name);
        if (e.event === 'join') joined.names.push(name);
        else {
          const i = joined.names.indexOf(name);
          if (i !== -1) joined.names.splice(i, 1);
        }
        joined.names.sort();
        const change: ClientEvents['presence'] = {
          channel,
          count: Number(e.count),
          names: [...joined.names],
          event: e.event === 'join' ? 'join' : 'leave',
          name,
        };
        if (typeof e.user === 'string') change.user = e.user;
        this._emit('presence', change);
        return;
      }
      case 'error': {
        const error: ServerError = { code: String(e.code), message: String(e.message) };
        if (typeof e.id === 'string' || typeof e.id === 'number') error.id = e.id;
        if (typeof e.channel === 'string') error.channel = e.channel;
        this._emit('error', error);
        return;
      }
      case 'ack': {
        if (typeof e.id !== 'string' && typeof e.id !== 'number') return;
        this._emit('ack', { id: e.id, channel, seq: Number(e.seq) });
        return;
      }
      default:
        return; // pong, left: liveness only
    }
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}
