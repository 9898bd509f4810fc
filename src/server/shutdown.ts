// Graceful shutdown of a server's connections: each is closed with a close frame that goes after what
// it already had queued; what has not finished its closing handshake by the deadline is terminated, and
// so is every opening handshake still under way (one deadline for everything the server holds).
import { encodeClosePayload, CloseCode } from '../protocol/close.js';
import { WebSocket } from '../connection/websocket.js';

export interface GracefulCloseOptions {
  /** Close code sent to every connection (default 1001, going away). */
  code?: number;
  /** Close reason sent with it (at most 123 bytes; default "Server shutting down"). */
  reason?: string;
  /** How long the closing handshakes may take before what is left is terminated (ms, default 10000). */
  timeout?: number;
}

export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/** Checks the options before anything is stopped, so that a bad code fails the call, not the shutdown. */
export function resolveCloseOptions(options: GracefulCloseOptions): Required<GracefulCloseOptions> {
  const code = options.code ?? CloseCode.GoingAway;
  const reason = options.reason ?? 'Server shutting down';
  encodeClosePayload(code, reason); // throws TypeError / RangeError for what may not be sent
  const timeout = options.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
  if (typeof timeout !== 'number' || !(timeout >= 0)) throw new TypeError(`Invalid shutdown timeout: ${String(timeout)}`);
  return { code, reason, timeout };
}

/** @internal The server's graceful shutdown (not part of the published API). */
export class Shutdown {
  private _timer: NodeJS.Timeout | null = null;

  /** `atDeadline` cuts what else the server holds (its opening handshakes under way). */
  constructor(connections: ReadonlySet<WebSocket>, options: Required<GracefulCloseOptions>, atDeadline: () => void) {
    for (const ws of connections) {
      if (ws._readyState === WebSocket.OPEN) ws.close(options.code, options.reason);
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      atDeadline();
      terminateAll(connections);
    }, options.timeout);
  }

  /** Every connection is gone. */
  finished(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }
}

function terminateAll(connections: ReadonlySet<WebSocket>): void {
  for (const ws of [...connections]) ws.terminate();
}
