// Deadlines of connections: a token's exp, the time a wavecast.v1 connection has to send its `auth`.
// One timer for the relay (a sweep a few times a second while any deadline is set), not one per
// connection; a connection past its deadline is handed to the callback it was watched with.
import type { WebSocket } from '../connection/websocket.js';

/** How often the sweep looks (ms). */
const SWEEP_INTERVAL = 250;

interface Deadline {
  at: number;
  expired: () => void;
}

export class ExpirySweep {
  private readonly _deadlines = new Map<WebSocket, Deadline>();
  private _timer: NodeJS.Timeout | null = null;
  private _stopped = false;

  /** Calls `expired` once `at` (ms since the epoch) has passed, unless unwatched or rewatched first. */
  watch(ws: WebSocket, at: number, expired: () => void): void {
    if (this._stopped) return;
    this._deadlines.set(ws, { at, expired });
    if (this._timer === null) {
      this._timer = setInterval(() => this._sweep(), SWEEP_INTERVAL);
      this._timer.unref();
    }
  }

  unwatch(ws: WebSocket): void {
    this._deadlines.delete(ws);
    if (this._deadlines.size === 0) this._clear();
  }

  private _sweep(): void {
    const now = Date.now();
    for (const [ws, deadline] of this._deadlines) {
      if (deadline.at > now) continue;
      this._deadlines.delete(ws);
      deadline.expired();
    }
    if (this._deadlines.size === 0) this._clear();
  }

  private _clear(): void {
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
  }

  stop(): void {
    this._stopped = true;
    this._deadlines.clear();
    this._clear();
  }
}
