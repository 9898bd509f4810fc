// The connection's side of its protocol machine (protocol/machine.ts): what the machine asks for (events
// handed to the WebSocket, frames written through its send path, the socket ended, reading paused) and what
// only the connection has, the close timer and the bytes sent after the close. A connection holds a Link (and
// its machine) only while something is under way: from the bytes the peer sends until they end at a message
// boundary with nothing waiting, and from the start of the closing on. A Link at rest goes back to a small
// pool, from which the next connection that receives something takes it: the bytes of a connection at rest
// are its WebSocket and socket only, however much it has received before.
import type { ProtocolError } from '../protocol/parser.js';
import { ProtocolMachine, type Inflater, type ProtocolHandler, type ProtocolOptions } from '../protocol/machine.js';
import { DEFAULT_MAX_BUFFERED_CHUNKS, type ConnectionOptions } from './options.js';
import type { WebSocket } from './websocket.js';

const OPEN = 1;
const CLOSING = 2;
const DEFAULT_CLOSE_TIMEOUT = 30_000;

export class Link implements ProtocolHandler {
  /** The connection served; null while the Link waits in the pool. */
  ws: WebSocket | null;
  /** The protocol machine, with this Link as its handler. */
  readonly machine: ProtocolMachine;
  /** Aborts the socket if the peer's close frame does not come in time. */
  timer: NodeJS.Timeout | null = null;
  /** Bytes given to send() after the connection stopped being open (they count in bufferedAmount). */
  afterClose = 0;
  /** Bytes are being pushed into the machine: it is not given up in the middle of them. */
  private pushing = false;

  constructor(ws: WebSocket, options: ProtocolOptions, inflater: Inflater | null) {
    this.ws = ws;
    this.machine = new ProtocolMachine(this, options, inflater);
  }

  /** Feeds the machine bytes received; the connection gives the Link up if they leave the machine at rest. */
  push(chunk: Buffer): void {
    this.pushing = true;
    this.machine.push(chunk);
    this.pushing = false;
    this.restIfIdle();
  }

  /**
   * Goes back to the pool when the connection is open and the machine at rest (nothing under way that
   * later bytes or a timer need): the connection takes a Link again when it next receives something.
   */
  private restIfIdle(): void {
    const ws = this.ws;
    if (ws === null || ws._link !== this || ws._readyState !== OPEN || !this.machine.atRest) return;
    ws._link = null;
    this.ws = null;
    if (spare.length < SPARE_LINKS) spare.push(this);
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    this.ws!._emitMessage(data, isBinary);
  }
  onPing(data: Buffer): void {
    this.ws!._receivePing(data);
  }
  onPong(data: Buffer): void {
    this.ws!._receivePong(data);
  }
  onClosing(): void {
    const ws = this.ws!;
    if (ws._readyState === OPEN) ws._readyState = CLOSING;
  }
  onError(error: ProtocolError): void {
    const ws = this.ws!;
    // Only when listened for: a peer's bad frame never crashes the process.
    if (ws.listenerCount('error') > 0) ws.emit('error', error);
  }
  write(frames: Buffer[]): void {
    const ws = this.ws!;
    ws._writeFrames(frames);
    // Nothing more will be sent: a close frame leaves now rather than at the end of the turn.
    if (ws._corked) ws._endOfTurn();
  }
  end(): void {
    this.ws!._endSocket();
  }
  awaitClose(): void {
    if (this.timer !== null) return;
    const ws = this.ws!;
    this.timer = setTimeout(destroySocket, ws._options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT, ws);
    this.timer.unref?.();
  }
  holdReading(hold: boolean): void {
    this.ws!._holdReading(hold);
  }
  defer(): void {
    setImmediate(resumeEvents, this.machine);
  }
  idle(): void {
    this.ws!._incomingDone();
    // What waited behind an inflation, or a deferral, is handed out: the machine may be at rest now (not
    // while bytes are being pushed: the machine is still reading them).
    if (!this.pushing) this.restIfIdle();
  }
  maskKey(): Buffer {
    return this.ws!._maskKey();
  }

  /** The connection has closed: the timer is no longer needed. */
  stopTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

/** Links at rest, with their machines, for the next connection that receives something. */
const spare: Link[] = [];
/**
 * Most Links kept in the pool. A connection gives its Link back at the end of the read that left it at rest,
 * so the pool rarely holds more than one; more are kept only after many connections were at once in the
 * middle of a frame or an inflation, and past this many the rest are left to the garbage collector.
 */
const SPARE_LINKS = 64;

/** @internal How many Links wait in the pool (at most SPARE_LINKS; for tests). */
export function spareLinks(): number {
  return spare.length;
}

/** A Link (and machine) for `ws`: one from the pool when there is one, made as new otherwise. */
export function linkFor(ws: WebSocket): Link {
  const options = protocolOptions(ws._options, ws._isServer, ws._compression !== null);
  const link = spare.pop();
  if (link === undefined) return new Link(ws, options, ws._compression);
  link.ws = ws;
  link.machine.reuse(link, options, ws._compression);
  return link;
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
