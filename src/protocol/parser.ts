// The streaming frame parser (RFC 6455 section 5): chunks of bytes in, messages and control frames out.
// Pure: it calls a handler and never touches a socket. Any split of the byte stream gives the same calls.
import { isUtf8 } from 'node:buffer';
import { CloseCode, isValidWireCloseCode } from './close.js';
import { MAX_CONTROL_PAYLOAD, Opcode, maskWord } from './frame.js';
import { MessageBuffer } from './message-buffer.js';
import { Utf8Validator } from './utf8.js';

/**
 * A violation by the peer, made as the `ws` package makes it: a RangeError (a plain Error for invalid UTF-8
 * and bad compressed data, 1007), with the message `ws` gives ('Invalid WebSocket frame: …'), `code` naming
 * it as `ws` does ('WS_ERR_…'), and `closeCode`, the close code the connection was failed with.
 */
export interface ProtocolError extends Error {
  /** A stable identifier, as the `ws` package names its errors (WS_ERR_…). */
  readonly code: string;
  /** The close code sent to the peer: 1002, 1007, 1008 or 1009. */
  readonly closeCode: number;
}

export interface ProtocolErrorConstructor {
  new (message: string, closeCode: number, code: string): ProtocolError;
  /** True for the errors made by `new ProtocolError(…)`, whatever their class. */
  [Symbol.hasInstance](value: unknown): value is ProtocolError;
}

/** Makes the error; `instanceof ProtocolError` recognises it (see the interface). */
export const ProtocolError = function ProtocolError(message: string, closeCode: number, code: string): ProtocolError {
  const error = closeCode === CloseCode.InvalidPayload ? new Error(message) : new RangeError(message);
  Error.captureStackTrace(error, ProtocolError);
  return Object.assign(error, { code, closeCode });
} as unknown as ProtocolErrorConstructor;
Object.defineProperty(ProtocolError, Symbol.hasInstance, {
  value: (value: unknown): boolean =>
    value instanceof Error && typeof (value as ProtocolError).closeCode === 'number' && typeof (value as ProtocolError).code === 'string',
});

// The messages of the errors, as `ws` words them (its prefix marks a frame that breaks RFC 6455).
const INVALID = 'Invalid WebSocket frame: ';
const RSV1_SET = `${INVALID}RSV1 must be clear`;
const INVALID_UTF8 = `${INVALID}invalid UTF-8 sequence`;
/** The message of a message over maxPayload, inflated or not. */
export const MAX_PAYLOAD_EXCEEDED = 'Max payload size exceeded';

export interface ParserHandler {
  /** A whole message. `data` may be a view of the chunk it arrived in. */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A valid close frame; `code` is 1005 when it carried none. Nothing is parsed after it. */
  onClose(code: number, reason: Buffer): void;
  /** The peer broke the protocol; nothing is parsed after it. */
  onError(error: ProtocolError): void;
}

export interface ParserOptions {
  /** True on the server: every frame must be masked. False on the client: none may be. */
  expectMasked: boolean;
  /** Largest message in bytes (0 for no limit). Checked from each header, before buffering. */
  maxPayload?: number;
  /** True once permessage-deflate is negotiated: RSV1 marks a compressed message. */
  allowRsv1?: boolean;
  /** Skip UTF-8 validation of text and close reasons (only for peers that are trusted to send valid text). */
  skipUtf8Validation?: boolean;
  /** Most frames one message may come in (0: no limit); more fail with 1008, as `ws`'s option does. */
  maxFragments?: number;
  /**
   * Most reads (chunks pushed) one frame may arrive in (0: no limit); more fail with 1008, as `ws`'s option
   * does. Nothing here holds chunks as a list (a message grows one buffer), so this only follows `ws`.
   */
  maxBufferedChunks?: number;
}

type ResolvedParserOptions = Readonly<Required<ParserOptions>>;

/**
 * Each options object given to a Parser, completed with its defaults once: connections that share an
 * options object (a server makes one per kind of connection) share its completed form too, so a parser
 * holds one reference instead of a copy of every setting.
 */
const resolved = new WeakMap<ParserOptions, ResolvedParserOptions>();
function resolveOptions(options: ParserOptions): ResolvedParserOptions {
  let out = resolved.get(options);
  if (out === undefined) {
    out = Object.freeze({
      expectMasked: options.expectMasked,
      maxPayload: options.maxPayload ?? 0,
      allowRsv1: options.allowRsv1 ?? false,
      skipUtf8Validation: options.skipUtf8Validation ?? false,
      maxFragments: options.maxFragments ?? 0,
      maxBufferedChunks: options.maxBufferedChunks ?? 0,
    });
    resolved.set(options, out);
  }
  return out;
}

const HEADER = 0;
const PAYLOAD = 1;
const DONE = 2;

export class Parser {
  private options: ResolvedParserOptions;
  /** What `options` was completed from (a parser given the same object again keeps its completed form). */
  private optionsGiven: ParserOptions;
  /** Told of what is parsed; a subclass (the connection's state machine, machine.ts) may be its own. */
  protected handler: ParserHandler;
  private state = HEADER;

  // A header split across chunks is gathered here.
  private headerBuf: Buffer | null = null;
  private headerFill = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The frame's masking key as a 32-bit number (its first byte most significant): no Buffer per parser. */
  private maskKey = 0;
  private payloadLength = 0;
  private payloadRead = 0;
  /** Chunks the frame being read has come in so far (for maxBufferedChunks). */
  private frameChunks = 0;

  // The data message being read (it may span frames and chunks): messageOpcode is 0 when none is open.
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageLength = 0;
  /** Frames of the data message being read so far (for maxFragments). */
  private messageFrames = 0;
  // Made on first use: most connections never need them, and each costs memory per connection.
  private message: MessageBuffer | null = null;
  private utf8: Utf8Validator | null = null;
  private validateIncrementally = false;

  // A control frame split across chunks.
  private controlBuf: Buffer | null = null;

  constructor(handler: ParserHandler, options: ParserOptions) {
    this.handler = handler;
    this.options = resolveOptions(options);
    this.optionsGiven = options;
  }

  /**
   * True between two messages: no frame, no part of a header and no fragmented message read but not
   * handed out, and not stopped. Nothing the next bytes need is kept, so they may go to a parser that has
   * just been reset (see reset()).
   */
  get betweenMessages(): boolean {
    return this.state === HEADER && this.headerFill === 0 && this.messageOpcode === 0;
  }

  /**
   * Takes other options for the bytes to come. Only between messages (betweenMessages): the parser is then
   * as a new one made with `options`, except for the scratch buffers it keeps.
   */
  protected reset(options: ParserOptions): void {
    if (options !== this.optionsGiven) {
      this.options = resolveOptions(options);
      this.optionsGiven = options;
    }
  }

  /** True after a close frame or a protocol error: further input is ignored. */
  get finished(): boolean {
    return this.state === DONE;
  }

  /** Stops parsing; later chunks are ignored. */
  stop(): void {
    this.state = DONE;
    this.message?.clear();
  }

  /** Feeds bytes. The parser may unmask them in place, so the caller gives up `chunk`. */
  push(chunk: Buffer): void {
    const maxBufferedChunks = this.options.maxBufferedChunks;
    if (maxBufferedChunks > 0 && this.state !== DONE) {
      if (this.state === HEADER && this.headerFill === 0) this.frameChunks = 0;
      else if (this.frameChunks >= maxBufferedChunks) {
        this.violation('Too many buffered chunks', CloseCode.PolicyViolation, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
        return;
      }
      this.frameChunks++;
    }
    const length = chunk.length;
    let offset = 0;
    while (offset < length) {
      if (this.state === HEADER) {
        const available = length - offset;
        if (this.headerFill === 0 && available >= 2) {
          const size = headerSize(chunk[offset + 1]!);
          if (available >= size) {
            if (!this.readHeader(chunk, offset)) return;
            offset += size;
            if (this.payloadLength === 0 && !this.endFrame(EMPTY)) return;
            continue;
          }
        }
        // Slow path: gather the header into headerBuf.
        const buf = (this.headerBuf ??= Buffer.allocUnsafe(14));
        if (this.headerFill < 2) {
          const take = Math.min(2 - this.headerFill, length - offset);
          chunk.copy(buf, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < 2) return;
        }
        const size = headerSize(buf[1]!);
        const take = Math.min(size - this.headerFill, length - offset);
        chunk.copy(buf, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < size) return;
        this.headerFill = 0;
        if (!this.readHeader(buf, 0)) return;
        if (this.payloadLength === 0 && !this.endFrame(EMPTY)) return;
      } else if (this.state === PAYLOAD) {
        const remaining = this.payloadLength - this.payloadRead;
        const take = Math.min(remaining, length - offset);
        if (take === this.payloadLength) {
          // The whole payload lies in this chunk: unmask it in place and hand out a view.
          const view = chunk.subarray(offset, offset + take);
          if (this.masked) maskWord(view, this.maskKey, view, 0, 0, take);
          this.payloadRead = take;
          offset += take;
          if (!this.endFrame(view)) return;
        } else {
          if (!this.appendPiece(chunk, offset, take)) return;
          offset += take;
          if (this.payloadRead === this.payloadLength && !this.endFrame(null)) return;
        }
      } else {
        return;
      }
    }
  }

  /** Decodes and checks a whole header at buf[offset]. Returns false after failing the connection. */
  private readHeader(buf: Buffer, offset: number): boolean {
    const b0 = buf[offset]!;
    const b1 = buf[offset + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x30) !== 0)
      return this.violation(`${INVALID}RSV2 and RSV3 must be clear`, CloseCode.ProtocolError, 'WS_ERR_UNEXPECTED_RSV_2_3');
    const options = this.options;
    if (rsv1 && !options.allowRsv1) return this.violation(RSV1_SET, CloseCode.ProtocolError, 'WS_ERR_UNEXPECTED_RSV_1');

    let length = b1 & 0x7f;
    if (opcode === Opcode.Continuation) {
      if (rsv1) return this.violation(RSV1_SET, CloseCode.ProtocolError, 'WS_ERR_UNEXPECTED_RSV_1');
      if (this.messageOpcode === 0) return this.violation(`${INVALID}invalid opcode 0`, CloseCode.ProtocolError, 'WS_ERR_INVALID_OPCODE');
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.messageOpcode !== 0)
        return this.violation(`${INVALID}invalid opcode ${opcode}`, CloseCode.ProtocolError, 'WS_ERR_INVALID_OPCODE');
    } else if (opcode === Opcode.Close || opcode === Opcode.Ping || opcode === Opcode.Pong) {
      if (!fin) return this.violation(`${INVALID}FIN must be set`, CloseCode.ProtocolError, 'WS_ERR_EXPECTED_FIN');
      if (rsv1) return this.violation(RSV1_SET, CloseCode.ProtocolError, 'WS_ERR_UNEXPECTED_RSV_1');
      // A close frame's payload is empty or holds a two-byte code.
      if (length > MAX_CONTROL_PAYLOAD || (length === 1 && opcode === Opcode.Close)) {
        return this.violation(
          `${INVALID}invalid payload length ${length}`,
          CloseCode.ProtocolError,
          'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
        );
      }
    } else {
      return this.violation(`${INVALID}invalid opcode ${opcode}`, CloseCode.ProtocolError, 'WS_ERR_INVALID_OPCODE');
    }

    const masked = (b1 & 0x80) !== 0;
    if (masked !== options.expectMasked) {
      return options.expectMasked
        ? this.violation(`${INVALID}MASK must be set`, CloseCode.ProtocolError, 'WS_ERR_EXPECTED_MASK')
        : this.violation(`${INVALID}MASK must be clear`, CloseCode.ProtocolError, 'WS_ERR_UNEXPECTED_MASK');
    }

    let o = offset + 2;
    if (length === 126) {
      length = (buf[o]! << 8) | buf[o + 1]!;
      o += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(o);
      // Above 2^53 - 1 (the most significant bit set included), as `ws` reports it.
      if (high > 0x1fffff)
        return this.violation(
          'Unsupported WebSocket frame: payload length > 2^53 - 1',
          CloseCode.MessageTooBig,
          'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
        );
      length = high * 0x100000000 + buf.readUInt32BE(o + 4);
      o += 8;
    }

    if (opcode < 0x8) {
      const total = (opcode === Opcode.Continuation ? this.messageLength : 0) + length;
      if (options.maxPayload > 0 && total > options.maxPayload) {
        return this.violation(MAX_PAYLOAD_EXCEEDED, CloseCode.MessageTooBig, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      }
      if (opcode !== Opcode.Continuation) {
        this.messageOpcode = opcode;
        this.messageCompressed = rsv1;
        this.messageLength = 0;
        this.validateIncrementally = false;
      }
      this.messageLength += length;
    }

    if (masked) this.maskKey = (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = length;
    this.payloadRead = 0;
    this.state = PAYLOAD;
    return true;
  }

  /** Takes part of a payload that does not lie whole in one chunk. */
  private appendPiece(chunk: Buffer, offset: number, take: number): boolean {
    const maskOffset = this.payloadRead;
    this.payloadRead += take;
    if (this.opcode >= 0x8) {
      const target = (this.controlBuf ??= Buffer.allocUnsafe(MAX_CONTROL_PAYLOAD));
      if (this.masked) maskWord(chunk.subarray(offset, offset + take), this.maskKey, target, maskOffset, maskOffset, take);
      else chunk.copy(target, maskOffset, offset, offset + take);
      return true;
    }
    // The chunk is ours: unmask in place, then keep the piece (as a view when it is large).
    const piece = chunk.subarray(offset, offset + take);
    if (this.masked) maskWord(piece, this.maskKey, piece, 0, maskOffset, take);
    if (!this.checkText(piece)) return false;
    (this.message ??= new MessageBuffer()).add(piece);
    return true;
  }

  /** Validates a piece of a text message that arrives in pieces, failing on the first bad byte. */
  private checkText(piece: Buffer): boolean {
    if (this.messageOpcode !== Opcode.Text || this.messageCompressed || this.options.skipUtf8Validation) return true;
    if (!this.validateIncrementally) {
      this.validateIncrementally = true;
      (this.utf8 ??= new Utf8Validator()).reset();
    }
    return this.utf8!.feed(piece) || this.badText();
  }

  private badText(): boolean {
    return this.violation(INVALID_UTF8, CloseCode.InvalidPayload, 'WS_ERR_INVALID_UTF8');
  }

  /**
   * Ends the current frame. `view` is the whole payload when it lay in one chunk, or null when it was
   * gathered by appendPiece.
   */
  private endFrame(view: Buffer | null): boolean {
    this.state = HEADER;
    // What is left of this chunk holds the start of the next frame, if anything.
    this.frameChunks = 1;
    const opcode = this.opcode;
    if (opcode >= 0x8) {
      const payload = view ?? Buffer.from(this.controlBuf!.subarray(0, this.payloadLength));
      return this.control(opcode, payload);
    }
    const maxFragments = this.options.maxFragments;
    if (maxFragments > 0 && ++this.messageFrames > maxFragments) {
      return this.violation('Too many message fragments', CloseCode.PolicyViolation, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
    }
    if (view !== null) {
      if (this.fin && (this.message === null || this.message.length === 0)) return this.deliver(view, false);
      if (!this.checkText(view)) return false;
      (this.message ??= new MessageBuffer()).add(view);
    }
    if (!this.fin) return true;
    return this.deliver(this.message?.take() ?? EMPTY, this.validateIncrementally);
  }

  private deliver(data: Buffer, validated: boolean): boolean {
    const isBinary = this.messageOpcode === Opcode.Binary;
    const compressed = this.messageCompressed;
    this.messageOpcode = 0;
    this.messageLength = 0;
    this.messageFrames = 0;
    if (!isBinary && !compressed && !this.options.skipUtf8Validation) {
      if (validated ? !this.utf8!.complete : !isUtf8(data)) return this.badText();
    }
    this.validateIncrementally = false;
    this.handler.onMessage(data, isBinary, compressed);
    return this.state !== DONE;
  }

  private control(opcode: number, payload: Buffer): boolean {
    if (opcode === Opcode.Close) {
      let code: number = CloseCode.NoStatus;
      let reason: Buffer = EMPTY;
      if (payload.length > 0) {
        code = (payload[0]! << 8) | payload[1]!;
        if (!isValidWireCloseCode(code))
          return this.violation(`${INVALID}invalid status code ${code}`, CloseCode.ProtocolError, 'WS_ERR_INVALID_CLOSE_CODE');
        reason = payload.subarray(2);
        if (!this.options.skipUtf8Validation && !isUtf8(reason)) return this.badText();
      }
      this.stop();
      this.handler.onClose(code, reason);
      return false;
    }
    if (opcode === Opcode.Ping) this.handler.onPing(payload);
    else this.handler.onPong(payload);
    return this.state !== DONE;
  }

  private violation(message: string, closeCode: number, code: string): false {
    this.stop();
    this.handler.onError(new ProtocolError(message, closeCode, code));
    return false;
  }
}

const EMPTY = Buffer.alloc(0);

function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
