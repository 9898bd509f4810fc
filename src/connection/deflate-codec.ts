// The compressor and decompressor of permessage-deflate (RFC 7692 section 7.2) over node:zlib's public
// API, and the process-wide limit on zlib operations running at once. One DeflateCodec per connection; it
// holds at most one zlib context per direction, made on first use and freed when no context is kept
// between messages (no_context_takeover) and on cleanup().
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  type InflateRaw,
  type ZlibOptions,
} from 'node:zlib';
import { CloseCode } from '../protocol/close.js';
import type { DeflateParams, ResolvedDeflateOptions } from '../protocol/deflate.js';
import { MAX_PAYLOAD_EXCEEDED, ProtocolError } from '../protocol/parser.js';

/** What a sender strips from the end of a compressed message and a receiver puts back (7.2.1, 7.2.2). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** An empty non-final stored block once the receiver appends TAIL: the payload of an empty message. */
const EMPTY_MESSAGE = Buffer.from([0x00]);

export type CodecCallback = (error: Error | null, result?: Buffer) => void;

export interface CodecConfig {
  /** Messages smaller than this (in bytes) are sent uncompressed; the connection reads it. */
  threshold: number;
  /** At most this many zlib operations run at once in the process (counting every codec's). */
  concurrencyLimit: number;
  /** Largest inflated message in bytes (0 for no limit): inflation stops as soon as it is passed. */
  maxPayload: number;
  deflateWindowBits: number;
  deflateNoContextTakeover: boolean;
  zlibDeflateOptions: ZlibOptions;
  inflateWindowBits: number;
  inflateNoContextTakeover: boolean;
  zlibInflateOptions: ZlibOptions;
}

// ---------------------------------------------------------------- the process-wide limiter

interface Waiting {
  limit: number;
  start: () => void;
}

/**
 * Runs jobs in arrival order, each once fewer than its own limit of jobs are running. A job ends with
 * release(). Jobs waiting hold only their input, and each connection has at most one waiting per direction.
 */
class Limiter {
  running = 0;
  private queue: (Waiting | undefined)[] = [];
  private head = 0;
  private draining = false;

  get waiting(): number {
    return this.queue.length - this.head;
  }

  run(limit: number, start: () => void): void {
    this.queue.push({ limit, start });
    this.drain();
  }

  release(): void {
    this.running--;
    this.drain();
  }

  private drain(): void {
    // A job that ends at once releases from inside start(): the outer loop carries on instead.
    if (this.draining) return;
    this.draining = true;
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      if (this.running >= job.limit) break;
      this.queue[this.head++] = undefined;
      this.running++;
      job.start();
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.draining = false;
  }
}

const limiter = new Limiter();

/** zlib operations of permessage-deflate running now, and waiting for their turn, in this process. */
export function zlibActivity(): { running: number; waiting: number } {
  return { running: limiter.running, waiting: limiter.waiting };
}

// ---------------------------------------------------------------- one direction of one connection

type ZlibStream = DeflateRaw | InflateRaw;

/**
 * Every stream is made with `flush: Z_SYNC_FLUSH` (node:zlib's documented default flush flag of a
 * write): one write() is then one zlib job in the thread pool over the whole buffer, ending in a sync
 * flush, and its callback comes once all its output has been handed out as 'data'. So a message costs
 * one job, as it would with a separate flush() after the write only at the price of a second job.
 */
const STREAM_FLUSH = constants.Z_SYNC_FLUSH;

/**
 * A whole message up to this size, compressed from an empty window (no context takeover, or a shared
 * publish), is compressed on the calling thread with deflateRawSync: for it a trip through the thread
 * pool costs more than the compression (4 KiB of JSON: tens of microseconds). Larger ones, and every
 * message that keeps a context, go to the pool; so does inflation, whose output is the peer's choice.
 */
const SYNC_DEFLATE_LIMIT = 16 * 1024;
const kChannel = Symbol('wavecast.deflate.channel');
type OwnedStream = ZlibStream & { [kChannel]?: Channel };

interface Operation {
  data: Buffer;
  fin: boolean;
  callback: CodecCallback;
}

/** Runs the operations of one direction one after another, each in a limiter slot, on one lazy stream. */
abstract class Channel {
  protected stream: OwnedStream | null = null;
  protected op: Operation | null = null;
  protected chunks: Buffer[] = [];
  protected length = 0;
  private readonly pending: Operation[] = [];
  private holdsSlot = false;
  private closed = false;
  private readonly startOp = () => this.started();

  constructor(
    protected readonly windowBits: number,
    protected readonly noContextTakeover: boolean,
    protected readonly zlibOptions: ZlibOptions,
    private readonly limit: number,
  ) {}

  submit(data: Buffer, fin: boolean, callback: CodecCallback): void {
    if (this.closed) {
      process.nextTick(callback, closedError());
      return;
    }
    this.pending.push({ data, fin, callback });
    this.next();
  }

  /** Fails what is under way and waiting, and frees the zlib context. The channel is then unusable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropStream();
    const error = closedError();
    if (this.op !== null) this.finish(error);
    for (const op of this.pending.splice(0)) op.callback(error);
  }

  /** Whether a zlib context is held now (for tests of the memory policy). */
  get hasContext(): boolean {
    return this.stream !== null;
  }

  protected abstract run(op: Operation): void;
  protected abstract create(): ZlibStream;

  /** Output of the current operation. */
  protected onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** zlib failed: the stream is destroyed already. */
  protected abstract onError(error: Error & { code?: string }): void;

  protected openStream(): OwnedStream {
    if (this.stream !== null) return this.stream;
    const stream = this.create() as OwnedStream;
    stream[kChannel] = this;
    stream.on('data', streamOnData);
    stream.on('error', streamOnError);
    this.stream = stream;
    return stream;
  }

  protected dropStream(): void {
    const stream = this.stream;
    if (stream === null) return;
    this.stream = null;
    // Destroying stops zlib between two output chunks; events of a dropped stream are ignored.
    stream.destroy();
  }

  /** The current operation's output as one buffer. */
  protected output(): Buffer {
    const chunks = this.chunks;
    if (chunks.length === 0) return Buffer.alloc(0);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.length);
  }

  protected finish(error: Error | null, result?: Buffer): void {
    const op = this.op;
    if (op === null) return;
    this.op = null;
    this.chunks = [];
    this.length = 0;
    if (this.holdsSlot) {
      this.holdsSlot = false;
      limiter.release();
    }
    if (error) op.callback(error);
    else op.callback(null, result);
    this.next();
  }

  private next(): void {
    if (this.op !== null || this.closed) return;
    const op = this.pending.shift();
    if (op === undefined) return;
    this.op = op;
    limiter.run(this.limit, this.startOp);
  }

  private started(): void {
    this.holdsSlot = true;
    const op = this.op;
    if (op === null) {
      // Closed while waiting for the slot.
      this.holdsSlot = false;
      limiter.release();
      return;
    }
    this.run(op);
  }

  /** @internal */ _data(stream: OwnedStream, chunk: Buffer): void {
    if (stream === this.stream && this.op !== null) this.onData(chunk);
  }

  /** @internal */ _error(stream: OwnedStream, error: Error): void {
    if (stream !== this.stream) return;
    this.stream = null;
    if (this.op !== null) this.onError(error);
  }
}

function streamOnData(this: OwnedStream, chunk: Buffer): void {
  this[kChannel]?._data(this, chunk);
}

function streamOnError(this: OwnedStream, error: Error): void {
  // Always listened for, so that a zlib error never reaches the process as an unhandled 'error'.
  this[kChannel]?._error(this, error);
}

function closedError(): Error {
  return new Error('The connection was closed while data was being compressed or decompressed');
}

class DeflateChannel extends Channel {
  protected create(): ZlibStream {
    return createDeflateRaw({ ...this.zlibOptions, windowBits: this.zlibWindowBits(), flush: STREAM_FLUSH });
  }

  private zlibWindowBits(): number {
    // zlib cannot make a raw deflate stream with a 256-byte window and Node asks for 512 bytes instead.
    // That is still safe for a peer that inflates with 256: zlib's deflate never reaches further back
    // than the window minus 262 bytes, here 250.
    return this.windowBits === 8 ? 9 : this.windowBits;
  }

  protected run(op: Operation): void {
    if (this.noContextTakeover && op.fin && this.stream === null && op.data.length <= SYNC_DEFLATE_LIMIT) {
      let out: Buffer;
      try {
        out = deflateRawSync(op.data, { ...this.zlibOptions, windowBits: this.zlibWindowBits(), finishFlush: constants.Z_SYNC_FLUSH });
      } catch (error) {
        this.onError(error as Error);
        return;
      }
      this.done(op, out);
      return;
    }
    const stream = this.openStream();
    // One job in the pool for the message and its flush.
    if (op.data.length > 0) stream.write(op.data, () => this.flushed(op, stream));
    else stream.flush(constants.Z_SYNC_FLUSH, () => this.flushed(op, stream));
  }

  private flushed(op: Operation, stream: OwnedStream): void {
    if (op !== this.op || stream !== this.stream) return;
    this.done(op, this.output());
  }

  private done(op: Operation, out: Buffer): void {
    if (op.fin) {
      // Z_SYNC_FLUSH ends the output with an empty stored block; its last 4 bytes are not sent.
      if (endsWithTail(out)) out = out.subarray(0, out.length - 4);
      if (out.length === 0) out = EMPTY_MESSAGE;
      if (this.noContextTakeover) this.dropStream();
    }
    this.finish(null, out);
  }

  protected onError(error: Error): void {
    this.finish(new Error(`Compression failed: ${error.message}`));
  }
}

class InflateChannel extends Channel {
  constructor(
    windowBits: number,
    noContextTakeover: boolean,
    zlibOptions: ZlibOptions,
    limit: number,
    private readonly maxPayload: number,
  ) {
    super(windowBits, noContextTakeover, zlibOptions, limit);
  }

  protected create(): ZlibStream {
    return createInflateRaw({ ...this.zlibOptions, windowBits: this.windowBits, flush: STREAM_FLUSH });
  }

  protected run(op: Operation): void {
    this.feed(op, op.data);
  }

  /** Inflates `input` (what is left of the operation's data) on the current stream, or a new one. */
  private feed(op: Operation, input: Buffer): void {
    const stream = this.openStream();
    const before = stream.bytesWritten;
    // One job in the pool for the message and its tail (a write ends in a sync flush, see STREAM_FLUSH).
    const whole = op.fin ? Buffer.concat([input, TAIL], input.length + TAIL.length) : input;
    if (whole.length > 0) stream.write(whole, () => this.flushed(op, stream, input, before));
    else stream.flush(constants.Z_SYNC_FLUSH, () => this.flushed(op, stream, input, before));
  }

  private flushed(op: Operation, stream: OwnedStream, input: Buffer, before: number): void {
    if (op !== this.op || stream !== this.stream) return;
    const consumed = stream.bytesWritten - before;
    if (consumed < input.length + (op.fin ? TAIL.length : 0)) {
      // The sender ended a DEFLATE stream (a block with BFINAL set): zlib stops there and the window is
      // gone. Whatever follows in the message starts a new stream, and so does the next message.
      this.dropStream();
      if (consumed < input.length) {
        this.feed(op, input.subarray(consumed));
        return;
      }
    } else if (op.fin && this.noContextTakeover) {
      this.dropStream();
    }
    this.finish(null, this.result());
  }

  protected override onData(chunk: Buffer): void {
    if (this.maxPayload > 0 && this.length + chunk.length > this.maxPayload) {
      // Checked on each chunk zlib hands out (16 KiB by default): the rest is never inflated.
      this.dropStream();
      this.finish(new ProtocolError(MAX_PAYLOAD_EXCEEDED, CloseCode.MessageTooBig, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'));
      return;
    }
    super.onData(chunk);
  }

  protected onError(error: Error & { code?: string }): void {
    // As `ws` reports it: zlib's own message and code ('Z_DATA_ERROR'...), failing the connection with 1007.
    this.finish(new ProtocolError(error.message, CloseCode.InvalidPayload, error.code ?? 'Z_DATA_ERROR'));
  }

  /**
   * The inflated message. A lone chunk is handed out as it is unless it is a small view of zlib's larger
   * output buffer, which a user keeping the message would otherwise keep alive.
   */
  private result(): Buffer {
    const out = this.output();
    if (this.chunks.length === 1 && out.length * 2 < out.buffer.byteLength) return Buffer.from(out);
    return out;
  }
}

function endsWithTail(data: Buffer): boolean {
  const n = data.length;
  return n >= 4 && data[n - 4] === 0x00 && data[n - 3] === 0x00 && data[n - 2] === 0xff && data[n - 1] === 0xff;
}

// ---------------------------------------------------------------- one message for many peers

/** How deflateMessage() compresses: what the peers that get the result negotiated, and zlib's options. */
export interface MessageDeflateOptions {
  /** The window in bits (8 to 15): the result is valid for every peer whose window is at least this. */
  windowBits: number;
  zlibOptions: ZlibOptions;
  /** As CodecConfig's: the job waits for a slot of the process-wide limiter. */
  concurrencyLimit: number;
}

/**
 * Compresses one whole message from an empty window, as a connection whose side keeps no context
 * between messages does, and calls back with the payload of its frame (the trailing 0x00 0x00 0xff 0xff
 * removed). The result holds no reference to any connection, so it can be sent to every such peer. The
 * job runs in a slot of the process-wide limiter, on a zlib context made for it and freed at once.
 */
export function deflateMessage(data: Buffer, options: MessageDeflateOptions, callback: CodecCallback): void {
  new DeflateChannel(options.windowBits, true, options.zlibOptions, options.concurrencyLimit).submit(data, true, callback);
}

// ---------------------------------------------------------------- the codec

/**
 * permessage-deflate for one connection: the MessageCompression the connection uses. Operations of one
 * direction run in order, one at a time; each waits for a slot of the process-wide limiter.
 */
export class DeflateCodec {
  readonly threshold: number;
  /** The window this side compresses with, in bits (as negotiated). */
  readonly deflateWindowBits: number;
  /**
   * Whether this side compresses each message from an empty window (no context takeover): then what
   * deflateMessage() makes with the same window and zlib options is what this codec would send.
   */
  readonly deflateNoContextTakeover: boolean;
  private readonly deflater: DeflateChannel;
  private readonly inflater: InflateChannel;

  constructor(config: CodecConfig) {
    this.threshold = config.threshold;
    this.deflateWindowBits = config.deflateWindowBits;
    this.deflateNoContextTakeover = config.deflateNoContextTakeover;
    this.deflater = new DeflateChannel(
      config.deflateWindowBits,
      config.deflateNoContextTakeover,
      config.zlibDeflateOptions,
      config.concurrencyLimit,
    );
    this.inflater = new InflateChannel(
      config.inflateWindowBits,
      config.inflateNoContextTakeover,
      config.zlibInflateOptions,
      config.concurrencyLimit,
      config.maxPayload,
    );
  }

  /**
   * Compresses a message, or a fragment of one when `fin` is false. The result of a whole message (or of
   * its last fragment) has the trailing 0x00 0x00 0xff 0xff removed.
   */
  compress(data: Buffer, fin: boolean, callback: CodecCallback): void {
    this.deflater.submit(data, fin, callback);
  }

  /**
   * Inflates a compressed message (with `fin`, the whole message or its last part). Fails with a
   * ProtocolError: 1009 as soon as the output passes maxPayload, 1007 for data that is not DEFLATE.
   */
  decompress(data: Buffer, fin: boolean, callback: CodecCallback): void {
    this.inflater.submit(data, fin, callback);
  }

  /** Frees both zlib contexts and fails what is pending. Call it once the connection has closed. */
  cleanup(): void {
    this.deflater.close();
    this.inflater.close();
  }

  /** Whether each direction holds a zlib context now. */
  get contexts(): { deflate: boolean; inflate: boolean } {
    return { deflate: this.deflater.hasContext, inflate: this.inflater.hasContext };
  }
}

// ---------------------------------------------------------------- the factory

export interface DeflateRole {
  /** True for the server's side of the connection. */
  isServer: boolean;
  /** Largest inflated message in bytes (0 for no limit). */
  maxPayload: number;
}

/**
 * Makes the compression of one connection from the negotiated parameters: what the connection's
 * `compression` option takes. Each side compresses with its own parameters and inflates with the peer's.
 */
export function createDeflateCompression(params: DeflateParams, options: ResolvedDeflateOptions, role: DeflateRole): DeflateCodec {
  const own = role.isServer ? 'server' : 'client';
  const peer = role.isServer ? 'client' : 'server';
  return new DeflateCodec({
    threshold: options.threshold,
    concurrencyLimit: options.concurrencyLimit,
    maxPayload: role.maxPayload,
    deflateWindowBits: params[`${own}MaxWindowBits`],
    deflateNoContextTakeover: params[`${own}NoContextTakeover`],
    zlibDeflateOptions: options.zlibDeflateOptions,
    inflateWindowBits: params[`${peer}MaxWindowBits`],
    inflateNoContextTakeover: params[`${peer}NoContextTakeover`],
    zlibInflateOptions: options.zlibInflateOptions,
  });
}
