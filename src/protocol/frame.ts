// Frame-level facts of RFC 6455 section 5: opcodes, header encoding, masking. Pure: no sockets, no timers, no events.
import { simdMask } from './mask-simd.js';

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Largest payload of a control frame (RFC 6455 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * Payloads up to this size are copied next to their header (one buffer from Node's pool, one entry to
 * write); larger ones are written as a second buffer, since copying them costs more than the second entry
 * (at 16 KiB the copy, and a fresh allocation per frame, took a tenth of the server's time in the echo).
 */
export const COPY_THRESHOLD = 2 * 1024;

export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset just past it.
 * `maskKey`, when given, is 4 bytes copied after the length.
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  payloadLength: number,
  maskKey: Uint8Array | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  let o = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 65536) {
    target[offset + 1] = maskBit | 126;
    target[o] = payloadLength >>> 8;
    target[o + 1] = payloadLength & 0xff;
    o += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[o] = high >>> 24;
    target[o + 1] = (high >>> 16) & 0xff;
    target[o + 2] = (high >>> 8) & 0xff;
    target[o + 3] = high & 0xff;
    target[o + 4] = low >>> 24;
    target[o + 5] = (low >>> 16) & 0xff;
    target[o + 6] = (low >>> 8) & 0xff;
    target[o + 7] = low & 0xff;
    o += 8;
  }
  if (maskKey) {
    target[o] = maskKey[0]!;
    target[o + 1] = maskKey[1]!;
    target[o + 2] = maskKey[2]!;
    target[o + 3] = maskKey[3]!;
    o += 4;
  }
  return o;
}

export interface FrameOptions {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  /** Four mask bytes (client to server), or null (server to client). */
  maskKey: Uint8Array | null;
}

/**
 * Builds the wire form of one frame. Small payloads come back as one buffer holding header and payload;
 * large unmasked payloads come back as [header, payload] with the payload not copied.
 */
export function encodeFrame(payload: Uint8Array, options: FrameOptions): Buffer[] {
  const length = payload.length;
  const { maskKey } = options;
  const hlen = headerLength(length, maskKey !== null);
  if (maskKey === null && length > COPY_THRESHOLD) {
    const header = Buffer.allocUnsafe(hlen);
    writeHeader(header, 0, options.opcode, options.fin, options.rsv1, length, null);
    return [header, Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length)];
  }
  const out = Buffer.allocUnsafe(hlen + length);
  const start = writeHeader(out, 0, options.opcode, options.fin, options.rsv1, length, maskKey);
  if (maskKey) mask(payload, maskKey, out, start, 0, length);
  else out.set(payload, start);
  return [out];
}

/**
 * The frame of a string in one buffer, the text encoded (as UTF-8) straight after the header, so that it
 * is never held as a separate Buffer. `length` is Buffer.byteLength(text).
 */
export function encodeTextFrame(text: string, length: number, opcode: number, fin: boolean, maskKey: Uint8Array | null): Buffer {
  const hlen = headerLength(length, maskKey !== null);
  const out = Buffer.allocUnsafe(hlen + length);
  writeHeader(out, 0, opcode, fin, false, length, maskKey);
  out.write(text, hlen);
  if (maskKey !== null) {
    const body = out.subarray(hlen);
    mask(body, maskKey, body, 0, 0, length);
  }
  return out;
}

/**
 * XORs `length` bytes of `source` (from 0) with the mask, writing them to `target` at `targetOffset`.
 * `maskOffset` says which mask byte applies to source[0] (for payloads unmasked piece by piece).
 */
export function mask(
  source: Uint8Array,
  maskKey: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
  maskOffset: number,
  length: number,
): void {
  const key = (maskKey[0]! << 24) | (maskKey[1]! << 16) | (maskKey[2]! << 8) | maskKey[3]!;
  maskWord(source, key, target, targetOffset, maskOffset, length);
}

/** mask() with the 4-byte key as one 32-bit number, its first byte most significant (as a parser keeps it). */
export function maskWord(
  source: Uint8Array,
  key: number,
  target: Uint8Array,
  targetOffset: number,
  maskOffset: number,
  length: number,
): void {
  if (length >= SIMD_FROM && simdMask !== null) {
    // WebAssembly is little-endian whatever the machine.
    simdMask(source, keyWord(key, maskOffset, true), target, targetOffset, length);
    return;
  }
  let i = 0;
  // Word-sized XOR: when source and target can both be viewed as 32-bit words from some point on,
  // do the bulk a word at a time (the machine's endianness decides the order of mask bytes in a word).
  if (length >= 64) {
    if (((source.byteOffset - target.byteOffset - targetOffset) & 3) !== 0) {
      // Source and target can never be aligned together: copy first (memcpy), then XOR in place.
      target.set(source.subarray(0, length), targetOffset);
      source = target.subarray(targetOffset, targetOffset + length);
      target = source;
      targetOffset = 0;
    }
    const sAddr = source.byteOffset;
    const tAddr = target.byteOffset + targetOffset;
    const lead = (4 - (sAddr & 3)) & 3;
    for (; i < lead; i++) target[targetOffset + i] = source[i]! ^ keyByte(key, maskOffset + i);
    const words = (length - lead) >>> 2;
    const src32 = new Uint32Array(source.buffer, sAddr + lead, words);
    const dst32 = new Uint32Array(target.buffer, tAddr + lead, words);
    const word = keyWord(key, maskOffset + lead, LITTLE_ENDIAN);
    let w = 0;
    for (const end = words - 3; w < end; w += 4) {
      dst32[w] = src32[w]! ^ word;
      dst32[w + 1] = src32[w + 1]! ^ word;
      dst32[w + 2] = src32[w + 2]! ^ word;
      dst32[w + 3] = src32[w + 3]! ^ word;
    }
    for (; w < words; w++) dst32[w] = src32[w]! ^ word;
    i = lead + words * 4;
  }
  // Byte loop for short payloads, unaligned views, and the tail.
  for (; i < length; i++) target[targetOffset + i] = source[i]! ^ keyByte(key, maskOffset + i);
}

/**
 * From this many bytes the XOR goes through WebAssembly SIMD (mask-simd.ts), when there is some: below it the
 * call and the copies in and out cost what they save (measured on x64, Node 20: about even at 128 bytes, twice
 * as fast where the JavaScript loop must copy first, 3x at 4 KiB and beyond).
 */
const SIMD_FROM = 128;

/**
 * The four key bytes that apply from position `k` on, as one 32-bit word laid out in memory: the first of
 * them in the lowest byte when `littleEndian`, in the highest otherwise.
 */
function keyWord(key: number, k: number, littleEndian: boolean): number {
  const b0 = keyByte(key, k);
  const b1 = keyByte(key, k + 1);
  const b2 = keyByte(key, k + 2);
  const b3 = keyByte(key, k + 3);
  return littleEndian ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

/** Byte `position & 3` of a key kept as a number. */
function keyByte(key: number, position: number): number {
  return (key >>> (24 - ((position & 3) << 3))) & 0xff;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
