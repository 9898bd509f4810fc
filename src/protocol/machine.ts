// The protocol state machine of one WebSocket connection (RFC 6455, RFC 7692), Sans-I/O as python-websockets'
// protocol.py: received bytes and the user's calls in, events (through a handler set once) and frames out.
// It holds the closing handshake (who closed first, answering the peer's close, the close code and reason
// reported, wasClean), failing the connection with a close code, and the order in which what the peer sent
// is handed out: nothing overtakes a message still being inflated (a later message, a ping, the peer's close
// frame or a protocol error wait behind it, so that a reply to the message goes out before the close is
// answered). No socket, no timer, no EventEmitter, no zlib: inflation goes through the Inflater interface,
// waiting for the peer's close through handler.awaitClose(), the next turn through handler.defer().
import { isUtf8 } from 'node:buffer';
import { CloseCode, encodeClosePayload } from './close.js';
import { Opcode, encodeFrame } from './frame.js';
import { Parser, ProtocolError, type ParserHandler, type ParserOptions } from './parser.js';

/** Inflates compressed messages (permessage-deflate); the layer above implements it (with node:zlib). */
export interface Inflater {
  /** Inflates one message; fails with a ProtocolError (1009 past maxPayload, 1007 on a bad stream). */
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
}

/** What the machine tells the layer above: methods called synchronously, in the order things happen. */
export interface ProtocolHandler {
  /** A whole message (inflated, UTF-8 checked). `data` may be a view of the bytes it arrived in. */
  onMessage(data: Buffer, isBinary: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** The connection is closing (our close(), the peer's close frame, or a failure). */
  onClosing(): void;
  /** The peer broke the protocol (or an inflation failed): our close frame with its closeCode is written already. */
  onError(error: ProtocolError): void;
  /** Frames to write now (a close frame), after everything written before; nothing follows a close frame. */
  write(frames: Buffer[]): void;
  /** Both close frames are through, or the connection failed: end the transport once what was written has gone. */
  end(): void;
  /** Our close frame is written: wait (bounded) for the peer's, then abort the transport. */
  awaitClose(): void;
  /** Stop (true) or restart (false) reading while received events wait their turn. */
  holdReading(hold: boolean): void;
  /** With synchronousEvents false: call resumeEvents() in a later turn of the event loop. */
  defer(): void;
  /** Nothing received waits any more (see `waiting`). */
  idle(): void;
  /** A 4-byte masking key for a frame the machine writes (a client's). */
  maskKey(): Buffer;
}

export interface ProtocolOptions extends ParserOptions {
  /** Hand out messages, pings and pongs as they are parsed (default true); false: one per handler.defer(). */
  synchronousEvents?: boolean;
}

// biome-ignore lint/suspicious/noConstEnum: inlined on the receive path; the package is built by tsc, not per file
const enum Held {
  Message,
  Ping,
  Pong,
  Close,
  Error,
}
type HeldEvent =
  | { kind: Held.Message; data: Buffer; isBinary: boolean; compressed: boolean }
  | { kind: Held.Ping | Held.Pong; data: Buffer }
  | { kind: Held.Close; code: number; reason: Buffer }
  | { kind: Held.Error; error: ProtocolError };

// The machine's booleans, one bit each of flags.
const CLOSE_SENT = 1;
const CLOSE_RECEIVED = 2;
/** The transport is gone: nothing more is handed out or written. */
const GONE = 4;
/** An inflation, or an event deferred to a later turn, is under way: what is received now waits behind it. */
const RUNNING = 8;
/** synchronousEvents is false. */
const STEPPED = 16;
/** Frames we write are masked (a client's). */
const MASKING = 32;
const SKIP_UTF8 = 64;

function optionFlags(options: ProtocolOptions): number {
  return (
    (options.synchronousEvents === false ? STEPPED : 0) |
    (options.expectMasked ? 0 : MASKING) |
    (options.skipUtf8Validation ? SKIP_UTF8 : 0)
  );
}

const EMPTY = Buffer.alloc(0);
const NO_HANDLER: ParserHandler = { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError() {} };

/**
 * One connection's protocol, once open. It is its own frame parser (a subclass of Parser, so that a
 * connection pays for one object, not two): push() feeds it the bytes received.
 */
export class ProtocolMachine extends Parser implements ParserHandler {
  /** The close code to report: the peer's (1005 when its close frame had none), 1006 until a close frame came. */
  closeCode: number = CloseCode.Abnormal;
  /** The peer's close reason (a copy). */
  closeReason: Buffer = EMPTY;
  private flags: number;
  /** What was received and waits its turn (behind an inflation, or deferred): null when nothing waits. */
  private held: HeldEvent[] | null = null;
  private events: ProtocolHandler;
  private inflater: Inflater | null;

  /** `inflater` is given once permessage-deflate is negotiated (options.allowRsv1 true). */
  constructor(events: ProtocolHandler, options: ProtocolOptions, inflater: Inflater | null = null) {
    super(NO_HANDLER, options);
    this.handler = this;
    this.events = events;
    this.inflater = inflater;
    this.flags = optionFlags(options);
  }

  /**
   * Nothing is under way: no frame or message partly read, nothing received waiting its turn, no close frame
   * either way, not failed. Such a machine holds nothing of its connection but the handler, options and
   * inflater it was made with: a connection at rest may give it up, and another may take it (reuse()).
   */
  get atRest(): boolean {
    return this.held === null && (this.flags & (CLOSE_SENT | CLOSE_RECEIVED | GONE | RUNNING)) === 0 && this.betweenMessages;
  }

  /** A machine at rest (atRest) serves another connection: it is then as new, made with these arguments. */
  reuse(events: ProtocolHandler, options: ProtocolOptions, inflater: Inflater | null): void {
    if (!this.atRest) throw new Error('a protocol machine is reused only at rest');
    this.reset(options);
    this.events = events;
    this.inflater = inflater;
    this.flags = optionFlags(options);
  }

  /** Both close frames went through (the close is clean, RFC 6455 7.1.5). */
  get wasClean(): boolean {
    return (this.flags & (CLOSE_SENT | CLOSE_RECEIVED)) === (CLOSE_SENT | CLOSE_RECEIVED);
  }
  /** Something received waits its turn (an inflation under way, or deferred events). */
  get waiting(): boolean {
    return this.held !== null;
  }

  // ------------------------------------------------------------ calls from the user

  /**
   * Starts the closing handshake: writes our close frame. Throws (before anything changes) for a code that
   * may not be sent (1005, 1006, 1015, ...) or a reason over 123 bytes.
   */
  close(code?: number, reason?: string | Uint8Array): void {
    const payload = encodeClosePayload(code, reason);
    this.events.onClosing();
    this.writeClose(payload);
  }

  /** close() again while closing: the transport may end once both close frames are through (or no more can come). */
  closeAgain(): void {
    if ((this.flags & CLOSE_SENT) !== 0 && ((this.flags & CLOSE_RECEIVED) !== 0 || this.finished)) this.events.end();
  }

  /**
   * Fails the connection (RFC 6455 7.1.7): nothing more is read, what waits is dropped, our close frame goes
   * with the error's close code (unless one went already), the transport ends, then handler.onError().
   */
  fail(error: ProtocolError): void {
    this.stop();
    if (this.held !== null) this.held.length = 0;
    if ((this.flags & GONE) !== 0) return;
    const events = this.events;
    events.onClosing();
    // Writing our close frame also starts waiting for the peer's (when it went before, the wait had started).
    if ((this.flags & CLOSE_SENT) === 0) this.writeClose(encodeClosePayload(error.closeCode));
    events.end();
    events.onError(error);
  }

  /** The transport is gone: nothing more is read, handed out or written. */
  gone(): void {
    this.flags |= GONE;
    this.stop();
  }

  /** With synchronousEvents false: hands out the event handler.defer() was asked for, then what follows it. */
  resumeEvents(): void {
    this.flags &= ~RUNNING;
    const held = this.held;
    if (held === null) return;
    const event = held.shift();
    if (event !== undefined && (this.flags & GONE) === 0) this.dispatch(event);
    this.handOut();
  }

  // ------------------------------------------------------------ from the parser (ParserHandler)

  /** Called by the parser (as all the on… methods below). */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (this.held === null && !compressed && (this.flags & STEPPED) === 0) this.events.onMessage(data, isBinary);
    else this.hold({ kind: Held.Message, data, isBinary, compressed });
  }
  onPing(data: Buffer): void {
    if (this.held === null && (this.flags & STEPPED) === 0) this.events.onPing(data);
    else this.hold({ kind: Held.Ping, data });
  }
  onPong(data: Buffer): void {
    if (this.held === null && (this.flags & STEPPED) === 0) this.events.onPong(data);
    else this.hold({ kind: Held.Pong, data });
  }
  onClose(code: number, reason: Buffer): void {
    if (this.held === null) this.receiveClose(code, reason);
    else this.hold({ kind: Held.Close, code, reason });
  }
  onError(error: ProtocolError): void {
    if (this.held === null) this.fail(error);
    else this.hold({ kind: Held.Error, error });
  }

  // ------------------------------------------------------------ the closing handshake

  private receiveClose(code: number, reason: Buffer): void {
    this.flags |= CLOSE_RECEIVED;
    this.closeCode = code;
    // A copy: the reason is a view of the chunk it came in, which the connection would keep alive.
    this.closeReason = reason.length === 0 ? EMPTY : Buffer.from(reason);
    this.events.onClosing();
    // Answered with the same code (none for 1005); once both close frames are through, the transport ends.
    if ((this.flags & CLOSE_SENT) === 0) this.writeClose(code === CloseCode.NoStatus ? EMPTY : encodeClosePayload(code, reason));
    else this.events.end();
  }

  private writeClose(payload: Buffer): void {
    if ((this.flags & (CLOSE_SENT | GONE)) !== 0) return;
    this.flags |= CLOSE_SENT;
    const events = this.events;
    const maskKey = (this.flags & MASKING) !== 0 ? events.maskKey() : null;
    events.write(encodeFrame(payload, { opcode: Opcode.Close, fin: true, rsv1: false, maskKey }));
    if ((this.flags & CLOSE_RECEIVED) !== 0) events.end();
    events.awaitClose();
  }

  // ------------------------------------------------------------ what waits its turn

  private hold(event: HeldEvent): void {
    (this.held ??= []).push(event);
    if ((this.flags & RUNNING) === 0) this.handOut();
  }

  private dispatch(event: HeldEvent): void {
    switch (event.kind) {
      case Held.Message:
        this.events.onMessage(event.data, event.isBinary);
        break;
      case Held.Ping:
        this.events.onPing(event.data);
        break;
      case Held.Pong:
        this.events.onPong(event.data);
        break;
      case Held.Close:
        this.receiveClose(event.code, event.reason);
        break;
      case Held.Error:
        this.fail(event.error);
        break;
    }
  }

  /** Hands out what waits, until an inflation or a deferral makes the rest wait again. */
  private handOut(): void {
    const held = this.held!;
    while (held.length > 0) {
      if ((this.flags & GONE) !== 0) {
        held.length = 0;
        break;
      }
      const event = held[0]!;
      if (event.kind === Held.Message && event.compressed) {
        held.shift();
        this.inflate(event.data, event.isBinary);
        return;
      }
      if ((this.flags & STEPPED) !== 0 && event.kind <= Held.Pong) {
        // Handed out in a later turn (resumeEvents()), one per turn.
        this.flags |= RUNNING;
        this.events.holdReading(true);
        this.events.defer();
        return;
      }
      held.shift();
      this.dispatch(event);
    }
    this.events.holdReading(false);
    this.settle();
  }

  private settle(): void {
    this.held = null;
    this.events.idle();
  }

  /** An inflation ended the waiting: what waits behind it is dropped, the connection failed with `failure` if any. */
  private abandon(failure: ProtocolError | null): void {
    this.held!.length = 0;
    if (failure !== null) this.fail(failure);
    this.settle();
  }

  private inflate(data: Buffer, isBinary: boolean): void {
    this.flags |= RUNNING;
    this.events.holdReading(true);
    this.inflater!.decompress(data, true, (error, result) => {
      this.flags &= ~RUNNING;
      if ((this.flags & GONE) !== 0) return this.abandon(null);
      if (error) {
        return this.abandon(
          error instanceof ProtocolError ? error : new ProtocolError(error.message, CloseCode.InvalidPayload, 'Z_DATA_ERROR'),
        );
      }
      if (!isBinary && (this.flags & SKIP_UTF8) === 0 && result!.length > 0 && !isUtf8(result!)) {
        return this.abandon(
          new ProtocolError('Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload, 'WS_ERR_INVALID_UTF8'),
        );
      }
      const held = this.held!;
      // As in `ws`, a text message that took an inflation to read is handed out at once, even without
      // synchronous events: the inflation already gave it a turn of its own.
      if ((this.flags & STEPPED) !== 0 && isBinary) held.unshift({ kind: Held.Message, data: result!, isBinary, compressed: false });
      else this.events.onMessage(result!, isBinary);
      this.handOut();
    });
  }
}
