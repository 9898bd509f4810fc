// One WebSocket connection over a Duplex: it drives the protocol machine (protocol/machine.ts: the closing
// handshake, failing with a close code, the order of what is received) over the socket, and sends (corked per
// event-loop turn; what must wait its turn, behind a compression or a fragmented message, goes through the
// connection's SendQueue). Server and client share this class; the
// `ws` package's face (EventEmitter events) and the browser's face (onmessage, addEventListener) are the
// same object.
import type { Duplex } from 'node:stream';
import { CloseCode } from '../protocol/close.js';
import { MAX_CONTROL_PAYLOAD, Opcode, encodeFrame, encodeTextFrame } from '../protocol/frame.js';
import type { ProtocolError } from '../protocol/parser.js';
import type { ProtocolMachine } from '../protocol/machine.js';
import { BrowserFace } from './browser-face.js';
import { type Link, linkFor } from './link.js';
import { adoptSocket, pongOnDrain, stopListening, type OwnedSocket } from './socket-listeners.js';
/** @internal */
export { isConnectionSocket, reserveSocketOwner } from './socket-listeners.js';
import { maskKey } from './mask-keys.js';
import { byteLengthOf, isBlob, toBuffer, type SendData } from './send-data.js';
import { SendQueue } from './send-queue.js';
import { atEndOfTurn, quietProcess } from './turn.js';
import type { SharedFrames } from './shared-frames.js';
import type { WebSocketEventMethods } from './websocket-events.js';
import { isTextMessage, toTextMessage } from './text-message.js';

export type { SendData } from './send-data.js';
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
/** CONNECTING, OPEN, CLOSING or CLOSED. */
export type ReadyState = 0 | 1 | 2 | 3;
/** A received binary message: a Buffer ('nodebuffer', the default), an ArrayBuffer or Buffer[] ('fragments'); a Blob with binaryType 'blob'. */
export type RawData = Buffer | ArrayBuffer | Buffer[];

import type { ConnectionOptions, MessageCompression, SendOptions, ServerHost } from './options.js';
export type { ConnectionOptions, MessageCompression, SendOptions } from './options.js';
/** @internal */
export type { ServerHost } from './options.js';
const DEFAULT_OPTIONS: ConnectionOptions = {};

/**
 * @internal What a connection was opened with (WebSocket#_opening): what its handshake settled, the server
 * that accepted it and its options; a server's connections that opened alike share one.
 */
export interface Opening {
  readonly protocol: string;
  readonly extensions: string;
  readonly url: string;
  /** Called by close()/terminate() while a client's handshake is under way. */
  readonly abort: ((message: string) => void) | null;
  readonly host: ServerHost | null;
  readonly options: ConnectionOptions;
}
const NOT_OPENED: Opening = Object.freeze({ protocol: '', extensions: '', url: '', abort: null, host: null, options: DEFAULT_OPTIONS });

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
const EMPTY = Buffer.alloc(0);
const BINARY_TYPES: readonly BinaryType[] =
  typeof Blob === 'undefined' ? ['nodebuffer', 'arraybuffer', 'fragments'] : ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];
export { DEFAULT_MAX_BUFFERED_CHUNKS } from './options.js';

import { connectionClock } from './clock.js';
/** @internal */
export { clockDiff, connectionClock } from './clock.js';

// The boolean state of a connection, packed into _flags (one idle connection is mostly these few fields):
// bit i of WebSocket#_flags is FLAGS[i]; the accessors are defined after the class.
const FLAGS = [
  '_corked',
  '_isServer',
  '_awaitingPong',
  '_endRequested',
  '_fragmenting',
  '_closeWhenInflated',
  '_compressFragments',
  '_binaryArrayBuffer',
  '_binaryFragments',
  '_binaryBlob',
  '_paused',
  '_peerEnded',
  '_messageMoved',
  '_wroteThisTurn',
  '_severalThisTurn',
  '_severalLastTurn',
] as const;
const FLAG_IS_SERVER = 1 << FLAGS.indexOf('_isServer');
/** A message was sent or received since the server's sweep last looked (see _lastMessage). */
const FLAG_MESSAGE_MOVED = 1 << FLAGS.indexOf('_messageMoved');

/**
 * A turn's sends to one socket are corked into one write, up to this many bytes: when a further send takes
 * them past it, they are handed to the socket at once, so that what the kernel takes leaves now and only what
 * it refuses is backlog (a burst in one turn reaches a peer that reads, and a peer that does not read is seen
 * as slow within the turn). A single large message stays corked until the end of its turn: flushing it from
 * inside the read that produced it (an echo of 1 MiB messages) cost 2-3x the server CPU per MB.
 */
const FLUSH_AT = 64 * 1024;
/** Largest first write of a turn that may go to the socket at once rather than corked (see _writeNow). */
const WRITE_AT_ONCE = 16 * 1024 + 16;

// It is a TurnMember (turn.ts) by its shape: no `implements`, so that the published declarations name none
// of the internals. A new one has no socket: a server hands it the upgraded one (_setSocket); the public class
// (client/websocket.ts) extends it with the constructor that dials.
export class WebSocket extends BrowserFace {
  // The ready-state constants: read-only, enumerable values on the class and its prototype (defined
  // after the class), as WebIDL makes them.
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /**
   * @internal The connection's booleans (_corked, _isServer, …), one bit each: they are accessors on the
   * prototype (see FLAGS), so that they cost one field per connection instead of one each.
   */
  _flags = FLAG_IS_SERVER;
  /** @internal */ _socket: OwnedSocket | null = null;
  /**
   * @internal The protocol machine (and frame parser) with its handler (the close timer, bytes sent after the
   * close), taken when the peer sends something or the closing starts, and given back when what it sent
   * ends at a message boundary with nothing waiting (link.ts): a connection at rest has none.
   */
  _link: Link | null = null;
  /** @internal */ declare _corked: boolean;
  /** @internal Bytes written to the socket since it was corked for this turn (not backlog yet). */
  _corkedBytes = 0;
  /** @internal CONNECTING, OPEN, CLOSING or CLOSED: two bits of _flags (READY_STATE_SHIFT), CONNECTING at first. */
  declare _readyState: number;
  /** @internal */ declare _isServer: boolean;
  /**
   * @internal What the connection was opened with (subprotocol, extensions, URL, server, options), in one
   * record that a server shares between the connections it opened alike; the fields below declared with it
   * (_protocol … _abortHandshake, _host, _options) are accessors over it.
   */
  _opening: Opening = NOT_OPENED;
  /** @internal */ declare _protocol: string;
  /** @internal */ declare _extensions: string;
  /** @internal */ declare _url: string;
  /** @internal Called by close()/terminate() while the client handshake is under way. */
  declare _abortHandshake: ((message: string) => void) | null;
  /** @internal */ _compression: MessageCompression | null = null;
  /**
   * @internal For the server's heartbeat (connectionClock()): when the peer was last heard from, or, while
   * _awaitingPong, when the ping that waits for an answer was sent. Anything read from the peer sets it
   * and clears _awaitingPong (socket-listeners.ts), so one field serves both.
   */
  _lastSeen = 0;
  /** @internal A heartbeat ping was sent and nothing has been read from the peer since. */
  declare _awaitingPong: boolean;
  /**
   * @internal The server that accepted this connection (tracked in `clients` or not): subscribe() goes
   * to its topics, and it is told of the close. Null on a client. In _opening.
   */
  declare _host: ServerHost | null;
  /**
   * @internal When a message (not a control frame) last went either way, for the server's idleTimeout
   * (connectionClock()). Sends and receives only set _messageMoved, a bit; the sweep turns it into a time.
   */
  _lastMessage = 0;
  /** @internal */ declare _messageMoved: boolean;
  /** @internal This turn has written here (the connection is in the turn's list). */
  declare _wroteThisTurn: boolean;
  /** @internal This turn has written here more than once. */
  declare _severalThisTurn: boolean;
  /** @internal The last turn that wrote here wrote more than once: this turn corks from its first write. */
  declare _severalLastTurn: boolean;
  /**
   * @internal The ordered send path for what cannot be written at once (compressions, shared publishes,
   * frames held behind a fragmented message); made on first need, so that an idle connection has none.
   */
  _sendQueue: SendQueue | null = null;

  /** @internal binaryType, as three of the _flags ('nodebuffer' when none is set). */
  declare private _binaryArrayBuffer: boolean;
  /** @internal */ declare private _binaryFragments: boolean;
  /** @internal */ declare private _binaryBlob: boolean;
  /** @internal pause() was called (and resume() not since). */
  declare private _paused: boolean;
  /** @internal The peer ended its side while what it sent before still waited: ours ends once that is handed out. */
  declare _peerEnded: boolean;
  /** @internal end() was asked of the socket (or queued behind a compression). */
  declare private _endRequested: boolean;
  /** @internal In _opening. */
  declare _options: ConnectionOptions;
  /** @internal */
  declare private _fragmenting: boolean;
  /** @internal The socket closed while what the peer sent before still waited its turn: 'close' waits for it. */
  declare private _closeWhenInflated: boolean;
  /** @internal Whether the fragmented message being sent is compressed (decided by its first fragment). */
  declare private _compressFragments: boolean;

  // biome-ignore lint/complexity/noUselessConstructor: it gives the class its own signature (no arguments) instead of EventEmitter's (options), so that a server's `new WebSocket(null, undefined, options)` type-checks against the client class.
  constructor() {
    super();
  }

  get readyState(): ReadyState {
    return this._readyState as ReadyState;
  }
  get protocol(): string {
    return this._protocol;
  }
  get extensions(): string {
    return this._extensions;
  }
  get url(): string {
    return this._url;
  }
  /**
   * How binary messages are handed out: 'nodebuffer' (a Buffer, the default), 'arraybuffer', 'fragments'
   * (an array of Buffers) or 'blob'. Read back, its type is the three values of `@types/ws` (which has no
   * 'blob'), so that a Wavecast socket can be passed where a `ws` one is expected; after `binaryType =
   * 'blob'` it reads 'blob'.
   */
  get binaryType(): 'nodebuffer' | 'arraybuffer' | 'fragments' {
    return (
      this._binaryFragments ? 'fragments' : this._binaryArrayBuffer ? 'arraybuffer' : this._binaryBlob ? 'blob' : 'nodebuffer'
    ) as 'nodebuffer';
  }
  set binaryType(type: BinaryType) {
    if (!BINARY_TYPES.includes(type)) return;
    this._binaryArrayBuffer = type === 'arraybuffer';
    this._binaryFragments = type === 'fragments';
    this._binaryBlob = type === 'blob';
  }
  /**
   * Bytes given to send() that the operating system has not taken: what the socket holds, what waits behind
   * a compression, and (as in `ws`) what was given to send() after the connection stopped being open.
   * Frames corked for the current turn are not counted: they are offered to the socket when the turn ends
   * (or at once, past 64 KiB), and only what it then does not take is still buffered.
   */
  get bufferedAmount(): number {
    const socket = this._socket;
    return (socket ? socket.writableLength - this._corkedBytes : 0) + (this._link?.afterClose ?? 0) + (this._sendQueue?.queuedBytes ?? 0);
  }
  /** Whether pause() was called (and resume() not since). */
  get isPaused(): boolean {
    return this._paused;
  }

  /**
   * @internal Takes over a socket whose opening handshake is done. `head` holds bytes that came after the
   * handshake. Emits 'open'.
   */
  _setSocket(socket: Duplex, head: Buffer, options: ConnectionOptions, compression: MessageCompression | null = null): void {
    this._socket = adoptSocket(this, socket, head);
    this._compression = compression;
    this._options = options;
    this._lastSeen = this._lastMessage = connectionClock();
    this._readyState = OPEN;
    this.emit('open');
  }

  // ---------------------------------------------------------------- sending

  send(data: SendData, callback?: (error?: Error) => void): void;
  send(data: SendData, options: SendOptions, callback?: (error?: Error) => void): void;
  send(data?: SendData, options?: SendOptions | ((error?: Error) => void), callback?: (error?: Error) => void): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this._readyState === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    let isText: boolean;
    let payload: Buffer | null = null;
    let blob: Blob | null = null;
    if (typeof data === 'number') data = String(data);
    if (typeof data === 'string') {
      isText = true;
    } else if (Buffer.isBuffer(data)) {
      payload = data;
      isText = isTextMessage(data);
    } else {
      // As in `ws`: no data is an empty binary message.
      if (isBlob(data)) blob = data;
      else payload = data ? toBuffer(data) : EMPTY;
      isText = false;
    }
    const length = payload !== null ? payload.length : blob !== null ? blob.size : Buffer.byteLength(data as string);
    if (this._readyState !== OPEN) {
      this._sendAfterClose(length, callback);
      return;
    }
    const continuation = this._fragmenting;
    // The server's slow-client policy, at the first frame of a message (a message is dropped whole or not at all).
    // A connection with no backlog (nothing queued, nothing the socket holds beyond this turn's corked
    // bytes) is always admitted: only one with a backlog pays for the policy's check.
    if (
      !continuation &&
      (this._sendQueue !== null || this._socket!.writableLength > this._corkedBytes) &&
      this._host !== null &&
      !this._host._admit(this, length)
    ) {
      if (callback)
        process.nextTick(
          callback,
          new Error(
            this._readyState === OPEN
              ? 'The message was dropped: the client is too slow (maxBackpressure)'
              : 'The connection was closed: the client is too slow (maxBackpressure)',
          ),
        );
      return;
    }
    this._flags |= FLAG_MESSAGE_MOVED;
    const binary = options?.binary ?? !isText;
    const fin = options?.fin ?? true;
    const masked = options?.mask ?? !this._isServer;
    let opcode: number = binary ? Opcode.Binary : Opcode.Text;
    if (continuation) opcode = Opcode.Continuation;
    this._fragmenting = !fin;

    let compress = false;
    if (this._compression !== null) {
      // permessage-deflate: the first fragment decides for the whole message (RSV1 goes on it alone).
      compress = continuation ? this._compressFragments : (options?.compress ?? true) && length >= this._compression.threshold;
      this._compressFragments = compress && !fin;
    }
    if (blob !== null) {
      // Read first (asynchronously); nothing sent after it overtakes it.
      this._queue().readBlob({ blob, size: length, opcode, fin, masked, compress, callback });
    } else if (compress) {
      this._queue().compress({ data: payload ?? Buffer.from(data as string), opcode, fin, masked, callback });
    } else if (payload === null) {
      this._writeFrames([encodeTextFrame(data as string, length, opcode, fin, masked ? this._maskKey() : null)], callback);
    } else {
      this._writeFrames(encodeFrame(payload, { opcode, fin, rsv1: false, maskKey: masked ? this._maskKey() : null }), callback);
    }
    if (fin && this._sendQueue?.holding) this._sendQueue.flushHeld();
  }

  /** @internal The connection's SendQueue, made on first need. */
  private _queue(): SendQueue {
    return (this._sendQueue ??= new SendQueue(this));
  }

  /** @internal A masking key for a frame: from the generateMask option when there is one. */
  _maskKey(): Buffer {
    const generate = this._options.generateMask;
    if (generate === undefined) return maskKey();
    const key = Buffer.alloc(4);
    generate(key);
    return key;
  }

  // ---------------------------------------------------------------- pub/sub (thin calls into the server's topic registry)

  /** Subscribes this (server-side) connection to `topic`. Returns false if it already was, or is not open. */
  subscribe(topic: string): boolean {
    if (this._host === null) throw new Error('subscribe() works on connections accepted by a WebSocketServer');
    if (this._readyState !== OPEN) return false;
    return this._host._subscribe(this, String(topic));
  }

  /** Unsubscribes from `topic`. Returns false if this connection was not subscribed to it. */
  unsubscribe(topic: string): boolean {
    if (this._host === null) throw new Error('unsubscribe() works on connections accepted by a WebSocketServer');
    return this._host._unsubscribe(this, String(topic));
  }

  isSubscribed(topic: string): boolean {
    return this._host?._isSubscribed(this, String(topic)) ?? false;
  }

  /** The topics this connection is subscribed to, in the order it subscribed. */
  get topics(): string[] {
    return this._host === null ? [] : this._host._topicsOf(this);
  }

  /**
   * @internal Writes frames built once for many connections (a publish), in order with this connection's
   * own sends (see _writeNow for when they leave at once). Returns false when the connection is not open.
   */
  _sendPrepared(frames: Buffer[], bytes: number): boolean {
    if (this._readyState !== OPEN) return false;
    this._flags |= FLAG_MESSAGE_MOVED;
    // ORDER: a publish must not overtake a message of ours that is still being compressed: _writeFrames
    // queues it behind that compression.
    if (this._fragmenting) this._queue().hold(frames, bytes);
    else this._writeFrames(frames, undefined, true);
    return true;
  }

  /**
   * @internal Reserves this connection's place for frames that a publish is still preparing for many
   * connections (a shared compression; see SendQueue#share). Returns false when the connection is not open.
   */
  _sendShared(shared: SharedFrames): boolean {
    if (this._readyState !== OPEN) return false;
    this._flags |= FLAG_MESSAGE_MOVED;
    if (shared.frames !== null) return this._sendPrepared(shared.frames, shared.bytes);
    this._queue().share(shared, this._fragmenting);
    return true;
  }

  /**
   * @internal Writes ready frames, corking the socket until the end of this event-loop turn (`fanOut`: see
   * _writeNow). While a compression (or a shared publish) is under way they wait behind it.
   */
  _writeFrames(frames: Buffer[], callback?: (error?: Error) => void, fanOut = false): void {
    const queue = this._sendQueue;
    if (queue?.busy) queue.push(frames, callback);
    else this._writeNow(frames, callback, fanOut);
  }

  /**
   * @internal Writes frames to the socket now (the SendQueue calls it when their turn has come). A turn's
   * writes to one socket are corked into one. A small first write goes out at once instead of waiting for
   * the turn's end (which would only add latency) when the last turn wrote to this connection once at most
   * and either the process is quiet (the last turn wrote to one connection at most) or the write is part of
   * a fan-out (`fanOut`: one message framed once for many connections, a publish, where the next message
   * is not coalesced with it anyway); otherwise the turn's writes leave together. Writing from inside the
   * read at once for every send costs CPU (echo -13 %, chat -21 % when measured), a fan-out's does not.
   */
  _writeNow(frames: Buffer[], callback?: (error?: Error) => void, fanOut = false): void {
    const socket = this._socket!;
    const first = !this._wroteThisTurn;
    if (first) {
      this._wroteThisTurn = true;
      atEndOfTurn(this);
    } else {
      this._severalThisTurn = true;
    }
    // A socket still holding what it refused earlier gains nothing from corking: it writes when it drains.
    if (
      !this._corked &&
      socket.writableLength < FLUSH_AT &&
      (!first || this._severalLastTurn || (!fanOut && !quietProcess()) || !isSmall(frames))
    ) {
      this._corked = true;
      socket.cork();
    }
    const before = socket.writableLength;
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) socket.write(frames[i]!);
    if (callback) socket.write(frames[last]!, callback as (error?: Error | null) => void);
    else socket.write(frames[last]!);
    if (this._corked) {
      const had = this._corkedBytes;
      this._corkedBytes += socket.writableLength - before;
      if (had > 0 && this._corkedBytes >= FLUSH_AT) this._flush();
    }
  }

  /** @internal The turn has ended: what it corked is handed to the socket. */
  _endOfTurn(): void {
    if (this._wroteThisTurn) {
      this._severalLastTurn = this._severalThisTurn;
      this._wroteThisTurn = false;
      this._severalThisTurn = false;
    }
    if (this._corked) this._flush();
  }

  /** @internal Hands what is corked to the socket now; the kernel takes what it can, the rest is backlog. */
  private _flush(): void {
    this._corked = false;
    this._corkedBytes = 0;
    this._socket?.uncork();
  }

  /**
   * @internal Calls back once the operating system has taken everything sent so far (bufferedAmount at most
   * `lowWater`), or with an error if the connection closes first. Work that produces a lot for one peer
   * (a replay, a history read) sends a part, then waits for this before the next, so it is paced by the peer.
   */
  _onceDrained(callback: (error?: Error) => void, lowWater = 0): void {
    if (this._readyState === CLOSED || this._socket === null) {
      process.nextTick(callback, new Error('The connection is closed'));
      return;
    }
    if (this.bufferedAmount <= lowWater) {
      process.nextTick(callback);
      return;
    }
    // An empty write through the ordered path calls back once everything before it has been written.
    this._writeFrames([EMPTY], (error?: Error) => {
      if (error) callback(error);
      else this._onceDrained(callback, lowWater);
    });
  }

  /** @internal Ends the socket once every frame sent before has been written. */
  _endSocket(): void {
    // Once is enough: a second end() (the peer's FIN after our close, say) would only build an error.
    if (this._endRequested) return;
    this._endRequested = true;
    const queue = this._sendQueue;
    if (queue?.busy) queue.pushEnd();
    else this._socket?.end();
  }

  /** @internal */
  private _sendAfterClose(length: number, callback?: (error?: Error) => void): void {
    this._ensureLink().afterClose += length;
    if (callback) {
      const state = READY_STATES[this._readyState];
      process.nextTick(callback, new Error(`WebSocket is not open: readyState ${this._readyState} (${state})`));
    }
  }

  /** @internal */
  private _control(opcode: number, data: SendData | undefined, masked: boolean | undefined, callback?: (error?: Error) => void): void {
    if (this._readyState === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    if (typeof data === 'number') data = String(data);
    if (this._readyState !== OPEN) {
      this._sendAfterClose(data ? byteLengthOf(data) : 0, callback);
      return;
    }
    // As in `ws`: no data (or empty) is an empty payload; a Blob is read first, in its turn.
    const blob = isBlob(data) ? data : null;
    const payload = blob !== null ? null : !data ? EMPTY : typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
    const length = blob !== null ? blob.size : payload!.length;
    if (length > MAX_CONTROL_PAYLOAD) throw new RangeError('The data size must not be greater than 125 bytes');
    const useMask = masked ?? !this._isServer;
    if (blob !== null) this._queue().readBlob({ blob, size: length, opcode, fin: true, masked: useMask, compress: false, callback });
    else this._writeFrames(encodeFrame(payload!, { opcode, fin: true, rsv1: false, maskKey: useMask ? this._maskKey() : null }), callback);
  }

  ping(callback?: (error?: Error) => void): void;
  ping(data?: SendData, callback?: (error?: Error) => void): void;
  ping(data?: SendData, mask?: boolean, callback?: (error?: Error) => void): void;
  ping(data?: unknown, mask?: unknown, callback?: (error?: Error) => void): void {
    this._controlArgs(Opcode.Ping, data, mask, callback);
  }

  pong(callback?: (error?: Error) => void): void;
  pong(data?: SendData, callback?: (error?: Error) => void): void;
  pong(data?: SendData, mask?: boolean, callback?: (error?: Error) => void): void;
  pong(data?: unknown, mask?: unknown, callback?: (error?: Error) => void): void {
    this._controlArgs(Opcode.Pong, data, mask, callback);
  }

  /** @internal ping()/pong() take (data?, mask?, callback?) with any trailing argument optional, as in `ws`. */
  private _controlArgs(opcode: number, data: unknown, mask: unknown, callback?: (error?: Error) => void): void {
    if (typeof data === 'function') {
      callback = data as (error?: Error) => void;
      data = undefined;
      mask = undefined;
    } else if (typeof mask === 'function') {
      callback = mask as (error?: Error) => void;
      mask = undefined;
    }
    this._control(opcode, data as SendData | undefined, mask as boolean | undefined, callback);
  }

  // ---------------------------------------------------------------- closing

  /**
   * Starts the closing handshake: sends a close frame with `code` and `reason`, then waits for the peer's
   * close frame (or destroys the socket after the close timeout).
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      this._abortHandshake?.('WebSocket was closed before the connection was established');
      return;
    }
    if (this._readyState === CLOSING) {
      this._link?.machine.closeAgain();
      return;
    }
    this._ensureMachine().close(code, reason);
  }

  /**
   * Destroys the connection at once, without a closing handshake. As in `ws`, what the peer had already
   * sent (read, or waiting in the socket) is still handed out before 'close'.
   */
  terminate(): void {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      this._abortHandshake?.('WebSocket was closed before the connection was established');
      return;
    }
    this._readyState = CLOSING;
    this._socket?.destroy();
  }

  /** Stops reading from the peer ('message', 'ping' and 'pong' wait) until resume(). */
  pause(): void {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = true;
    this._socket?.pause();
  }
  resume(): void {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) return;
    this._paused = false;
    if (!this._link?.machine.waiting) this._socket?.resume();
  }

  // ---------------------------------------------------------------- receiving (called by the Link)

  /** @internal The Link (and machine), taken on first need. */
  _ensureLink(): Link {
    return (this._link ??= linkFor(this));
  }

  /** @internal The protocol machine, taken on first need. */
  _ensureMachine(): ProtocolMachine {
    return this._ensureLink().machine;
  }

  /** @internal Reading stops while events wait, so that what waits stays bounded per connection. */
  _holdReading(hold: boolean): void {
    const socket = this._socket;
    if (socket === null) return;
    if (hold) socket.pause();
    else if (!this._paused && (this._readyState === OPEN || this._readyState === CLOSING)) socket.resume();
  }

  /** @internal Nothing received waits any more. */
  _incomingDone(): void {
    // Its close frame (if it sent one) has been answered by now: our side may end.
    if (this._peerEnded) this._endSocket();
    if (this._closeWhenInflated) this._socketClosed();
  }

  /** @internal */
  _emitMessage(data: Buffer, isBinary: boolean): void {
    this._flags |= FLAG_MESSAGE_MOVED;
    // As in `ws`, binaryType shapes binary messages only; text always comes as a TextMessage (a Buffer).
    let out: RawData | Blob;
    if (!isBinary) out = toTextMessage(data);
    else if ((this._flags & BINARY_TYPE_FLAGS) === 0) out = data;
    else if (this._binaryArrayBuffer) out = data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer;
    else if (this._binaryFragments) out = [data];
    else out = new Blob([data]);
    this.emit('message', out, isBinary);
  }

  /** @internal A MessageEvent's data: text as a string, binary as binaryType made it. */
  protected _eventData(data: unknown, isBinary: boolean): unknown {
    return isBinary ? data : String(data);
  }

  /** @internal */
  _receivePing(data: Buffer): void {
    if (this._options.autoPong !== false && this._readyState === OPEN) {
      const socket = this._socket!;
      if (socket.writableNeedDrain) {
        // The peer does not read what we send: a pong for each of its pings would pile up without
        // bound. Only its latest ping is answered, once the socket drains (RFC 6455 5.5.3 allows it).
        pongOnDrain(this, socket, Buffer.from(data));
      } else {
        this.pong(data, !this._isServer);
      }
    }
    this.emit('ping', data);
  }

  /** @internal */
  _receivePong(data: Buffer): void {
    this.emit('pong', data);
  }

  /**
   * @internal Fails the connection, as `ws` does (see ProtocolMachine#fail): a close frame with the error's
   * code and no reason, the socket ended, then 'error' (only when listened for). No close frame came from
   * the peer, so 'close' reports 1006 (RFC 6455 7.1.5); the peer sees the code.
   */
  _fail(error: ProtocolError): void {
    if (this._readyState === CLOSED) this._link?.machine.gone();
    else this._ensureMachine().fail(error);
  }

  /**
   * @internal Sending failed (a Blob could not be read): as `ws` does, the connection is ended without a
   * close frame, and 'error' is emitted (when listened for).
   */
  _failSend(error: Error): void {
    if (this._readyState === CLOSED) return;
    if (this._readyState === OPEN) {
      this._readyState = CLOSING;
      this._ensureLink().awaitClose();
    }
    this._socket?.end();
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal The socket is gone: the connection is closed. */
  _socketClosed(): void {
    if (this._readyState === CLOSED) return;
    const socket = this._socket;
    if (socket !== null && !this._closeWhenInflated) {
      stopListening(socket);
      // As `ws` does: what the peer sent that still waits in the socket (it was paused, or the connection
      // was terminated) is read, so that messages already received are handed out before 'close'.
      if (socket.readableLength > 0 && !this._link?.machine.finished) {
        for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
          this._ensureLink().push(chunk);
        }
      }
    }
    const machine = this._link?.machine;
    if (machine?.waiting) {
      // A message that arrived before the end (often in the same read as the peer's close frame) is
      // still being inflated, or waits its turn: it is delivered first, and 'close' follows.
      if (this._readyState === OPEN) this._readyState = CLOSING;
      this._closeWhenInflated = true;
      return;
    }
    this._closeWhenInflated = false;
    if (this._readyState === OPEN) this._readyState = CLOSING;
    this._link?.stopTimer();
    machine?.gone();
    // As in `ws`, the callbacks of sends that never left are called (with an error) before 'close'.
    this._sendQueue?.fail();
    this._compression?.cleanup();
    this._readyState = CLOSED;
    this._host?._clientClosed(this);
    this.emit('close', machine?.closeCode ?? CloseCode.Abnormal, machine?.closeReason ?? EMPTY);
  }

  /**
   * @internal Used by the client when the opening handshake fails: error (if listened for and not null),
   * then close 1006.
   */
  _failHandshake(error: Error | null): void {
    if (this._readyState === CLOSED) return;
    this._readyState = CLOSING;
    if (error !== null && this.listenerCount('error') > 0) this.emit('error', error);
    this._readyState = CLOSED;
    this.emit('close', CloseCode.Abnormal, EMPTY);
  }

  /** @internal */
  protected _wasClean(): boolean {
    return this._link?.machine.wasClean ?? false;
  }
}

// Its EventEmitter methods, typed with its events (types only).
export interface WebSocket {
  on: WebSocketEventMethods<WebSocket, this>['on'];
  once: WebSocketEventMethods<WebSocket, this>['once'];
  off: WebSocketEventMethods<WebSocket, this>['off'];
  addListener: WebSocketEventMethods<WebSocket, this>['addListener'];
  removeListener: WebSocketEventMethods<WebSocket, this>['removeListener'];
}

/** Whether frames are small enough to write at once, from inside a read (a large message waits for the turn's end). */
function isSmall(frames: Buffer[]): boolean {
  let bytes = 0;
  for (const frame of frames) bytes += frame.length;
  return bytes <= WRITE_AT_ONCE;
}

// The accessors of the booleans packed into _flags (listed in FLAGS above).
FLAGS.forEach((name, bit) => {
  const flag = 1 << bit;
  Object.defineProperty(WebSocket.prototype, name, {
    get(this: WebSocket): boolean {
      return (this._flags & flag) !== 0;
    },
    set(this: WebSocket, on: boolean) {
      this._flags = on ? this._flags | flag : this._flags & ~flag;
    },
  });
});

// What the connection was opened with: accessors over the _opening record, which is never changed in place (a
// server shares it): setting one of them to a new value gives the connection a record of its own.
for (const [name, key] of [
  ['_protocol', 'protocol'],
  ['_extensions', 'extensions'],
  ['_url', 'url'],
  ['_abortHandshake', 'abort'],
  ['_host', 'host'],
  ['_options', 'options'],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, {
    get(this: WebSocket) {
      return this._opening[key];
    },
    set(this: WebSocket, value: never) {
      if (this._opening[key] !== value) this._opening = { ...this._opening, [key]: value };
    },
  });
}

// The ready state, the two bits of _flags above the booleans.
const READY_STATE_SHIFT = FLAGS.length;
if (READY_STATE_SHIFT + 2 > 31) throw new Error('the flags and the ready state take more than 31 bits');
Object.defineProperty(WebSocket.prototype, '_readyState', {
  get(this: WebSocket): number {
    return (this._flags >>> READY_STATE_SHIFT) & 3;
  },
  set(this: WebSocket, state: number) {
    this._flags = (this._flags & ~(3 << READY_STATE_SHIFT)) | (state << READY_STATE_SHIFT);
  },
});

const BINARY_TYPE_FLAGS =
  (1 << FLAGS.indexOf('_binaryArrayBuffer')) | (1 << FLAGS.indexOf('_binaryFragments')) | (1 << FLAGS.indexOf('_binaryBlob'));

// As WebIDL (and `ws`) makes them: the ready-state constants are read-only enumerable values on the class
// and on its prototype, and the attributes are enumerable accessors.
for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}
for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url']) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
