// Builds frames by hand and records what a Parser reports, for the protocol unit tests.
import { Parser, type ParserHandler, type ParserOptions, type ProtocolError } from '../../src/protocol/parser.js';

export type ParsedEvent =
  | { type: 'message'; data: Buffer; isBinary: boolean; compressed: boolean }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; closeCode: number; code: string; message: string };

export function recorder(options: Partial<ParserOptions> = {}): { parser: Parser; events: ParsedEvent[] } {
  const events: ParsedEvent[] = [];
  const handler: ParserHandler = {
    onMessage: (data, isBinary, compressed) => events.push({ type: 'message', data: Buffer.from(data), isBinary, compressed }),
    onPing: (data) => events.push({ type: 'ping', data: Buffer.from(data) }),
    onPong: (data) => events.push({ type: 'pong', data: Buffer.from(data) }),
    onClose: (code, reason) => events.push({ type: 'close', code, reason: reason.toString() }),
    onError: (error: ProtocolError) => events.push({ type: 'error', closeCode: error.closeCode, code: error.code, message: error.message }),
  };
  const parser = new Parser(handler, { expectMasked: true, maxPayload: 0, ...options });
  return { parser, events };
}

export interface RawFrame {
  opcode: number;
  payload?: Uint8Array | string | number[];
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A mask key, or null for an unmasked frame. Default: a fixed key. */
  maskKey?: number[] | null;
  /** Force a length encoding: 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
  /** Override the length written in the header. */
  declaredLength?: bigint;
}

/** Encodes one frame, independently of src/protocol/frame.ts, so the tests check the parser against the RFC. */
export function rawFrame(frame: RawFrame): Buffer {
  const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload) : Buffer.from(frame.payload ?? []);
  const maskKey = frame.maskKey === undefined ? [0x37, 0xfa, 0x21, 0x3d] : frame.maskKey;
  const length = frame.declaredLength ?? BigInt(payload.length);
  const bits = frame.lengthBits ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const head: number[] = [
    ((frame.fin ?? true) ? 0x80 : 0) | (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0) | frame.opcode,
  ];
  const maskBit = maskKey ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | Number(length));
  else if (bits === 16) head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  const body = Buffer.from(payload);
  if (maskKey) {
    head.push(...maskKey);
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ maskKey[i % 4]!;
  }
  return Buffer.concat([Buffer.from(head), body]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** Feeds `bytes` to a fresh parser cut at the given chunk sizes (cycled), returning the events. */
export function parseSplit(bytes: Buffer, sizes: number[], options: Partial<ParserOptions> = {}): ParsedEvent[] {
  const { parser, events } = recorder(options);
  const copy = Buffer.from(bytes);
  let offset = 0;
  let i = 0;
  while (offset < copy.length) {
    const size = Math.max(1, sizes[i++ % sizes.length]!);
    parser.push(copy.subarray(offset, offset + size));
    offset += size;
  }
  return events;
}

export function parseAll(bytes: Buffer, options: Partial<ParserOptions> = {}): ParsedEvent[] {
  const { parser, events } = recorder(options);
  parser.push(Buffer.from(bytes));
  return events;
}
