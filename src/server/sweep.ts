// The one timer of a server: a periodic sweep that pings quiet connections and terminates those that do
// not answer (heartbeat), closes connections that exchange no message (idleTimeout), and drops opening
// handshakes that take too long (handshakeTimeout). No connection has a timer of its own.
//
// The two clocks of a connection differ on purpose: the heartbeat asks whether the peer is alive, so any
// byte from it counts (a pong above all); idleTimeout asks whether the connection is used, so only
// messages count, sent or received: a peer that answers pings and does nothing else is alive but idle.
import type { Duplex } from 'node:stream';
import { CloseCode } from '../protocol/close.js';
import { WebSocket, clockDiff, connectionClock } from '../connection/websocket.js';
import type { ServerStats } from './stats.js';

export interface HeartbeatOptions {
  /** Ping a connection when nothing has been received from it for this long (ms). */
  interval: number;
  /** Terminate it when nothing, not even the pong, has come back this long after the ping (ms). */
  timeout: number;
}

export interface SweepOptions {
  heartbeat: HeartbeatOptions | null;
  /** Close a connection when no message has gone either way for this long (ms); 0 is off. */
  idleTimeout: number;
  /** Drop a connection whose opening handshake is not done this long after it began (ms); 0 is off. */
  handshakeTimeout: number;
}

/** An opening handshake under way: its deadline, and whether its upgrade request has arrived. */
interface PendingHandshake {
  deadline: number;
  upgrading: boolean;
}

/** What the sweep does to a handshake past its deadline (answer 408, or just drop the socket). */
export type HandshakeExpiry = (socket: Duplex, upgrading: boolean) => void;

const MIN_TICK = 5;

/** @internal The server's sweep (not part of the published API). */
export class Sweeper {
  private _timer: NodeJS.Timeout | null = null;
  private readonly _tick: number;
  private readonly _pending = new Map<Duplex, PendingHandshake>();
  private readonly _watchConnections: boolean;
  private readonly _forget: (this: Duplex) => void;

  constructor(
    private readonly _connections: ReadonlySet<WebSocket>,
    private readonly _options: SweepOptions,
    private readonly _stats: ServerStats,
    private readonly _onExpired: HandshakeExpiry,
  ) {
    const { heartbeat, idleTimeout, handshakeTimeout } = _options;
    const periods: number[] = [];
    if (heartbeat) periods.push(heartbeat.interval, heartbeat.timeout);
    if (idleTimeout > 0) periods.push(idleTimeout);
    if (handshakeTimeout > 0) periods.push(handshakeTimeout);
    // A quarter of the shortest period: every deadline is met within a quarter of its length.
    this._tick = periods.length > 0 ? Math.max(MIN_TICK, Math.floor(Math.min(...periods) / 4)) : 0;
    this._watchConnections = heartbeat !== null || idleTimeout > 0;
    const pending = this._pending;
    this._forget = function (this: Duplex) {
      pending.delete(this);
    };
  }

  /** Starts the timer if something needs watching; it stops itself once nothing does. */
  wake(): void {
    if (this._timer !== null || this._tick === 0 || !this._needed()) return;
    this._timer = setInterval(sweepTick, this._tick, this);
    this._timer.unref();
  }

  stop(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  /**
   * A handshake begins (a TCP connection to our own server, or an upgrade request handed to us). It is
   * kept until it ends even without a handshakeTimeout, so that a shutdown can cut it at its deadline.
   */
  handshakeStarted(socket: Duplex, upgrading: boolean): void {
    const entry = this._pending.get(socket);
    if (entry !== undefined) {
      entry.upgrading ||= upgrading;
      return;
    }
    const timeout = this._options.handshakeTimeout;
    this._pending.set(socket, { deadline: timeout > 0 ? Date.now() + timeout : Infinity, upgrading });
    if (timeout > 0) this.wake();
    // No sweep looks for it (no deadline): its own close takes it off the list.
    else socket.on('close', this._forget);
  }

  /** The handshake is over (answered with 101, or refused). */
  handshakeEnded(socket: Duplex): void {
    if (this._pending.delete(socket) && this._options.handshakeTimeout <= 0) socket.removeListener('close', this._forget);
  }

  /**
   * The server is shutting down: connections whose upgrade request has not even arrived are destroyed;
   * upgrades being decided are answered 503 when the decision comes (or 408 at their deadline).
   */
  dropPendingHandshakes(): void {
    for (const [socket, entry] of this._pending) {
      if (entry.upgrading) continue;
      this._pending.delete(socket);
      socket.destroy();
    }
  }

  /** A shutdown's deadline: every handshake still under way is dropped, whatever it waits for. */
  dropAllHandshakes(): void {
    for (const socket of this._pending.keys()) socket.destroy();
    this._pending.clear();
  }

  /** Handshakes under way. */
  get pendingHandshakes(): number {
    return this._pending.size;
  }

  private _needed(): boolean {
    return this._pending.size > 0 || (this._watchConnections && this._connections.size > 0);
  }

  /** @internal One pass over everything watched. */
  _sweep(now: number): void {
    for (const [socket, entry] of this._pending) {
      if (socket.destroyed) {
        this._pending.delete(socket);
      } else if (now >= entry.deadline) {
        this._pending.delete(socket);
        this._stats.handshakeTimeouts++;
        this._onExpired(socket, entry.upgrading);
      }
    }
    if (this._watchConnections) {
      const { heartbeat, idleTimeout } = this._options;
      const clock = connectionClock(); // the clock of _lastSeen
      for (const ws of this._connections) {
        if (ws._readyState !== WebSocket.OPEN) continue;
        if (heartbeat !== null) {
          // Reading anything from the peer clears _awaitingPong and sets _lastSeen (socket-listeners.ts):
          // while it is set, _lastSeen is when the ping was sent.
          if (ws._awaitingPong) {
            if (clockDiff(clock, ws._lastSeen) >= heartbeat.timeout) {
              this._stats.heartbeatTimeouts++;
              ws.terminate();
              continue;
            }
          } else if (clockDiff(clock, ws._lastSeen) >= heartbeat.interval) {
            ws._awaitingPong = true;
            ws._lastSeen = clock;
            ws.ping();
          }
        }
        if (idleTimeout > 0) {
          // A send or receive only sets a bit; the time is taken here, at most a tick late.
          if (ws._messageMoved) {
            ws._messageMoved = false;
            ws._lastMessage = clock;
          } else if (clockDiff(clock, ws._lastMessage) >= idleTimeout) {
            this._stats.idleCloses++;
            ws.close(CloseCode.Normal, `Idle timeout: no message for ${formatSeconds(idleTimeout)}`);
          }
        }
      }
    }
    if (!this._needed()) this.stop();
  }
}

function sweepTick(sweeper: Sweeper): void {
  sweeper._sweep(Date.now());
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
