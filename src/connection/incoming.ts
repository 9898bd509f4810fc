// What the peer sent that must wait its turn before the application sees it: everything that came after a
// message still being inflated (zlib is asynchronous; a later message, a ping, the peer's close frame or a
// protocol error may not overtake it, so that a reply to the message goes out before the close is
// answered, as in `ws`), and, with `allowSynchronousEvents: false`, every message, ping and pong, which are
// then handed out one per turn of the event loop. Reading from the socket stops while anything waits.
// A connection makes its IncomingQueue when it first needs one and drops it once it is empty again: the
// common case (an uncompressed message with synchronous events) never comes here.
import { CloseCode } from '../protocol/close.js';
import { ProtocolError } from '../protocol/parser.js';
import { isUtf8 } from 'node:buffer';

// biome-ignore lint/suspicious/noConstEnum: inlined on the receive path; the package is built by tsc, not per file
export const enum Held {
  Message,
  Ping,
  Pong,
  Close,
  Error,
}

export type HeldEvent =
  | { kind: Held.Message; data: Buffer; isBinary: boolean; compressed: boolean }
  | { kind: Held.Ping | Held.Pong; data: Buffer }
  | { kind: Held.Close; code: number; reason: Buffer }
  | { kind: Held.Error; error: ProtocolError };

/** The connection as the queue reaches it. */
export interface IncomingHost {
  /** Synchronous events are allowed (the default): only what follows an inflation waits. */
  readonly _syncEvents: boolean;
  readonly _skipUtf8Validation: boolean;
  _inflateMessage(data: Buffer, callback: (error: Error | null, result?: Buffer) => void): void;
  /** Hands an event to the application (or, for a close or an error, to the connection). */
  _dispatch(event: HeldEvent): void;
  /** Stops or restarts reading from the socket while events wait. */
  _holdReading(hold: boolean): void;
  /** The queue is empty again and has been dropped. */
  _incomingDone(): void;
  _fail(error: ProtocolError): void;
  /** Whether the connection has closed (nothing more is delivered). */
  readonly _gone: boolean;
}

export class IncomingQueue {
  private readonly _events: HeldEvent[] = [];
  /** An inflation or a deferred event is under way: what comes now waits behind it. */
  private _running = false;

  constructor(private readonly _host: IncomingHost) {}

  /** Whether an event must wait instead of being handed out at once. */
  get busy(): boolean {
    return this._running || this._events.length > 0;
  }

  push(event: HeldEvent): void {
    this._events.push(event);
    if (!this._running) this._next();
  }

  /** Drops what waits (the connection failed or is being torn down). */
  clear(): void {
    this._events.length = 0;
  }

  private _next(): void {
    const host = this._host;
    const events = this._events;
    while (events.length > 0) {
      if (host._gone) {
        events.length = 0;
        break;
      }
      const event = events.shift()!;
      if (event.kind === Held.Message && event.compressed) {
        this._inflate(event.data, event.isBinary);
        return;
      }
      if (!host._syncEvents && event.kind <= Held.Pong) {
        this._running = true;
        host._holdReading(true);
        setImmediate(() => {
          this._running = false;
          if (!host._gone) host._dispatch(event);
          this._next();
        });
        return;
      }
      host._dispatch(event);
    }
    host._holdReading(false);
    host._incomingDone();
  }

  private _inflate(data: Buffer, isBinary: boolean): void {
    const host = this._host;
    this._running = true;
    host._holdReading(true);
    host._inflateMessage(data, (error, result) => {
      this._running = false;
      if (host._gone) {
        this._events.length = 0;
        host._incomingDone();
        return;
      }
      if (error) {
        this._events.length = 0;
        host._fail(error instanceof ProtocolError ? error : new ProtocolError(error.message, CloseCode.InvalidPayload, 'Z_DATA_ERROR'));
        host._incomingDone();
        return;
      }
      if (!isBinary && !host._skipUtf8Validation && result!.length > 0 && !isUtf8(result!)) {
        this._events.length = 0;
        host._fail(new ProtocolError('Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload, 'WS_ERR_INVALID_UTF8'));
        host._incomingDone();
        return;
      }
      // As in `ws`, a text message that took an inflation to read is handed out at once, even without
      // synchronous events: the inflation already gave it a turn of its own.
      if (!host._syncEvents && isBinary) this._events.unshift({ kind: Held.Message, data: result!, isBinary, compressed: false });
      else host._dispatch({ kind: Held.Message, data: result!, isBinary, compressed: false });
      this._next();
    });
  }
}
