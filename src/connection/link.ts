// The connection's side of its protocol machine (protocol/machine.ts): what the machine asks for (events
// handed to the WebSocket, frames written through its send path, the socket ended, reading paused) and what
// only the connection has, the close timer and the bytes sent after the close. Made with the machine, when
// the peer first sends something or the closing starts: an idle connection has neither.
import type { ProtocolError } from '../protocol/parser.js';
import { ProtocolMachine, type ProtocolHandler, type ProtocolOptions } from '../protocol/machine.js';
import { DEFAULT_MAX_BUFFERED_CHUNKS, type ConnectionOptions, type MessageCompression } from './options.js';
import type { WebSocket } from './websocket.js';

const OPEN = 1;
const CLOSING = 2;
const DEFAULT_CLOSE_TIMEOUT = 30_000;

export class Link implements ProtocolHandler {
  /** Aborts the socket if the peer's close frame does not come in time. */
  timer: NodeJS.Timeout | null = null;
  /** Bytes given to send() after the connection stopped being open (they count in bufferedAmount). */
  afterClose = 0;

  constructor(private readonly ws: WebSocket) {}

  /** The connection's protocol machine, with this as its handler. */
  startMachine(options: ConnectionOptions, isServer: boolean, compression: MessageCompression | null): ProtocolMachine {
    return new ProtocolMachine(this, protocolOptions(options, isServer, compression !== null), compression);
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    this.ws._emitMessage(data, isBinary);
  }
  onPing(data: Buffer): void {
    this.ws._receivePing(data);
  }
  onPong(data: Buffer): void {
    this.ws._receivePong(data);
  }
  onClosing(): void {
    if (this.ws._readyState === OPEN) this.ws._readyState = CLOSING;
  }
  onError(error: ProtocolError): void {
    const ws = this.ws;
    // Only when listened for: a peer's bad frame never crashes the process.
    if (ws.listenerCount('error') > 0) ws.emit('error', error);
  }
  write(frames: Buffer[]): void {
    const ws = this.ws;
    ws._writeFrames(frames);
    // Nothing more will be sent: a close frame leaves now rather than at the end of the turn.
    if (ws._corked) ws._endOfTurn();
  }
  end(): void {
    this.ws._endSocket();
  }
  awaitClose(): void {
    if (this.timer !== null) return;
    const ws = this.ws;
    this.timer = setTimeout(destroySocket, ws._options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT, ws);
    this.timer.unref?.();
  }
  holdReading(hold: boolean): void {
    this.ws._holdReading(hold);
  }
  defer(): void {
    setImmediate(resumeEvents, this.ws._machine!);
  }
  idle(): void {
    this.ws._incomingDone();
  }
  maskKey(): Buffer {
    return this.ws._maskKey();
  }

  /** The connection has closed: the timer is no longer needed. */
  stopTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

function destroySocket(ws: WebSocket): void {
  ws._socket?.destroy();
}

function resumeEvents(machine: ProtocolMachine): void {
  machine.resumeEvents();
}

/**
 * The protocol options of the connections that share a ConnectionOptions object (a server's), one per role and
 * compression: made once, so that a machine holds a reference to shared settings, not a copy.
 */
const PROTOCOL_OPTIONS = new WeakMap<ConnectionOptions, (ProtocolOptions | undefined)[]>();
function protocolOptions(options: ConnectionOptions, isServer: boolean, compressed: boolean): ProtocolOptions {
  let kinds = PROTOCOL_OPTIONS.get(options);
  if (kinds === undefined) PROTOCOL_OPTIONS.set(options, (kinds = []));
  const index = (isServer ? 2 : 0) + (compressed ? 1 : 0);
  return (kinds[index] ??= {
    expectMasked: isServer,
    maxPayload: options.maxPayload ?? 0,
    allowRsv1: compressed,
    skipUtf8Validation: options.skipUTF8Validation ?? false,
    maxFragments: options.maxFragments ?? 0,
    maxBufferedChunks: options.maxBufferedChunks ?? DEFAULT_MAX_BUFFERED_CHUNKS,
    synchronousEvents: options.allowSynchronousEvents !== false,
  });
}
