// Runs the frame parser on chunks and checks what the fuzzers promise of it, whatever the input:
//   - no exception escapes push();
//   - a violation is reported only through onError, as a ProtocolError whose closeCode is 1002, 1007 or
//     1009 and whose code names it (WS_ERR_...);
//   - after onError or onClose nothing more is reported, even when more bytes come;
//   - every message, ping, pong and close it reports is well-formed (messages within maxPayload, control
//     payloads within 125 bytes, close codes that may be on the wire, reasons in UTF-8 unless validation is
//     skipped);
//   - while a message is being gathered, the parser holds no more than maxPayload bytes of it, and the
//     memory those bytes keep alive (the chunks its views point into) stays within twice that, plus a block.
import { isUtf8 } from 'node:buffer';
import { isValidWireCloseCode } from '../src/protocol/close.js';
import { Parser, ProtocolError, type ParserOptions } from '../src/protocol/parser.js';
import type { ParsedEvent } from './wire.js';

/** Beyond twice the message: the block small pieces are copied into (16 KiB) and what it may waste. */
export const RETAINED_SLACK = 32 * 1024;

export const ALLOWED_CLOSE_CODES: ReadonlySet<number> = new Set([1002, 1007, 1009]);

export interface ParserRun {
  events: ParsedEvent[];
  /** What broke a promise above (empty when all held). */
  violations: string[];
  /** 'close', 'error:<code>', or 'open' (the parser still waits for more). */
  outcome: string;
  /** Largest message reported, in bytes. */
  maxMessage: number;
  /** Most bytes of an unfinished message held at once. */
  maxHeld: number;
  /** Most memory those bytes kept alive at once (the distinct buffers behind them), in bytes. */
  maxRetained: number;
}

/** The parser's private state that the memory checks look at (read only, and only here). */
interface ParserInternals {
  message: { length: number; pieces: Buffer[]; block: Buffer | null } | null;
}

/** Copies `chunk` into memory of its own, as a socket read would give it (not a slice of a shared pool). */
export function ownChunk(chunk: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(chunk.length);
  out.set(chunk);
  return out;
}

/**
 * Feeds `chunks` (the parser may change them: pass copies) and checks every promise. When
 * `trailing` is true, some bytes are pushed after the last chunk if the parser has finished, to check
 * that it stays silent.
 */
export function runParser(chunks: readonly Buffer[], options: ParserOptions, trailing = true): ParserRun {
  const events: ParsedEvent[] = [];
  const violations: string[] = [];
  let finished = false;
  let outcome = 'open';
  let maxMessage = 0;
  const maxPayload = options.maxPayload ?? 0;
  const after = (what: string) => {
    if (finished) violations.push(`${what} reported after ${outcome}`);
  };
  const parser = new Parser(
    {
      onMessage(data, isBinary, compressed) {
        after('a message');
        maxMessage = Math.max(maxMessage, data.length);
        if (maxPayload > 0 && data.length > maxPayload)
          violations.push(`a message of ${data.length} bytes passed maxPayload ${maxPayload}`);
        if (!isBinary && !compressed && !options.skipUtf8Validation && !isUtf8(data)) violations.push('a text message that is not UTF-8');
        events.push({ type: 'message', data: Buffer.from(data), isBinary, compressed });
      },
      onPing(data) {
        after('a ping');
        if (data.length > 125) violations.push(`a ping of ${data.length} bytes`);
        events.push({ type: 'ping', data: Buffer.from(data) });
      },
      onPong(data) {
        after('a pong');
        if (data.length > 125) violations.push(`a pong of ${data.length} bytes`);
        events.push({ type: 'pong', data: Buffer.from(data) });
      },
      onClose(code, reason) {
        after('a close');
        if (code !== 1005 && !isValidWireCloseCode(code)) violations.push(`close code ${code} reported`);
        if (code === 1005 && reason.length > 0) violations.push('a reason without a code');
        // skipUtf8Validation covers close reasons too, as in `ws`.
        if (reason.length > 123 || (!options.skipUtf8Validation && !isUtf8(reason))) violations.push('a bad close reason reported');
        events.push({ type: 'close', code, reason: Buffer.from(reason) });
        finished = true;
        outcome = 'close';
      },
      onError(error) {
        after('an error');
        if (!(error instanceof ProtocolError)) violations.push(`onError with ${String(error)}`);
        if (!ALLOWED_CLOSE_CODES.has(error.closeCode)) violations.push(`close code ${error.closeCode} for ${error.message}`);
        if (!/^WS_ERR_[A-Z0-9_]+$/.test(error.code) || error.message === '')
          violations.push(`an error without a code or message: ${error.code}`);
        events.push({ type: 'error', closeCode: error.closeCode, code: error.code, message: error.message });
        finished = true;
        outcome = `error:${error.closeCode}`;
      },
    },
    options,
  );
  const internals = parser as unknown as ParserInternals;
  const retention = new Retention();
  let maxHeld = 0;
  let maxRetained = 0;
  const push = (chunk: Buffer) => {
    try {
      parser.push(chunk);
    } catch (error) {
      violations.push(`push() threw: ${(error as Error)?.stack ?? String(error)}`);
      finished = true;
      outcome = 'threw';
    }
    const message = internals.message;
    if (message !== null && message.length > 0) {
      maxHeld = Math.max(maxHeld, message.length);
      const retained = retention.measure(message);
      maxRetained = Math.max(maxRetained, retained);
      if (retained > 2 * message.length + RETAINED_SLACK)
        violations.push(`keeps ${retained} bytes alive for ${message.length} bytes of a message`);
      if (maxPayload > 0 && message.length > maxPayload)
        violations.push(`holds ${message.length} bytes of a message, maxPayload ${maxPayload}`);
    }
    if (parser.finished !== finished && outcome !== 'threw') violations.push(`parser.finished is ${parser.finished} after ${outcome}`);
  };
  for (const chunk of chunks) push(chunk);
  if (trailing && finished) push(ownChunk(Buffer.from([0x81, 0x80, 1, 2, 3, 4, 0x89, 0x80, 5, 6, 7, 8])));
  return { events, violations, outcome, maxMessage, maxHeld, maxRetained };
}

/**
 * The memory a message buffer keeps alive: each distinct backing buffer of its pieces and block, once.
 * Pieces are only ever added until the message is taken (which makes a new list), so each measure looks
 * at the new pieces only.
 */
class Retention {
  private pieces: Buffer[] | null = null;
  private seen = new Set<ArrayBufferLike>();
  private counted = 0;
  private total = 0;

  measure(message: NonNullable<ParserInternals['message']>): number {
    if (message.pieces !== this.pieces) {
      this.pieces = message.pieces;
      this.seen = new Set();
      this.counted = 0;
      this.total = 0;
    }
    for (; this.counted < message.pieces.length; this.counted++) this.add(message.pieces[this.counted]!);
    const block = message.block;
    return this.total + (block !== null && !this.seen.has(block.buffer) ? block.buffer.byteLength : 0);
  }

  private add(piece: Buffer): void {
    if (this.seen.has(piece.buffer)) return;
    this.seen.add(piece.buffer);
    this.total += piece.buffer.byteLength;
  }
}

/**
 * Whether two runs of the same bytes, cut differently, reported the same thing. One exception, by design:
 * invalid UTF-8 fails fast, so a run that saw part of a frame whose payload has not all arrived may
 * already have failed with 1007 where the other still waits for the rest.
 */
export function sameEvents(a: ParserRun, b: ParserRun): boolean {
  if (eventsEqual(a.events, b.events)) return true;
  const [longer, shorter] = a.events.length > b.events.length ? [a, b] : [b, a];
  const last = longer.events.at(-1);
  return (
    shorter.outcome === 'open' &&
    last?.type === 'error' &&
    last.closeCode === 1007 &&
    eventsEqual(longer.events.slice(0, -1), shorter.events)
  );
}

export function eventsEqual(a: readonly ParsedEvent[], b: readonly ParsedEvent[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((event, i) => describeEvent(event) === describeEvent(b[i]!));
}

export function describeEvent(event: ParsedEvent): string {
  switch (event.type) {
    case 'message':
      return `message ${event.isBinary ? 'binary' : 'text'}${event.compressed ? ' compressed' : ''} ${event.data.toString('hex')}`;
    case 'ping':
    case 'pong':
      return `${event.type} ${event.data.toString('hex')}`;
    case 'close':
      return `close ${event.code} ${event.reason.toString('hex')}`;
    case 'error':
      return `error ${event.closeCode} ${event.code} ${event.message}`;
  }
}
