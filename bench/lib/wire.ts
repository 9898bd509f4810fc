// Small RFC 6455 helpers shared by the load generator and the raw `node:net` peer. They are written for
// the benchmark only: just enough protocol to build frames once, parse headers and answer a handshake.
import { createHash } from 'node:crypto';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** Length of a frame header whose second byte is `b1` (payload length code and mask bit). */
export function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/** Payload length of the header at `src[o]`; the header must be complete. */
export function payloadLength(src: Uint8Array, o: number): number {
  const len7 = src[o + 1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (src[o + 2]! << 8) | src[o + 3]!;
  const hi = ((src[o + 2]! << 24) >>> 0) + (src[o + 3]! << 16) + (src[o + 4]! << 8) + src[o + 5]!;
  const lo = ((src[o + 6]! << 24) >>> 0) + (src[o + 7]! << 16) + (src[o + 8]! << 8) + src[o + 9]!;
  return hi * 0x100000000 + lo;
}

/** Writes a frame header at `out[o]`, returns the header length. `mask` is 4 bytes or null. */
export function writeHeader(out: Buffer, o: number, opcode: number, length: number, mask: Uint8Array | null, rsv1 = false): number {
  out[o] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  const m = mask ? 0x80 : 0;
  let n = 2;
  if (length < 126) {
    out[o + 1] = m | length;
  } else if (length < 0x10000) {
    out[o + 1] = m | 126;
    out.writeUInt16BE(length, o + 2);
    n = 4;
  } else {
    out[o + 1] = m | 127;
    out.writeUInt32BE(Math.floor(length / 0x100000000), o + 2);
    out.writeUInt32BE(length >>> 0, o + 6);
    n = 10;
  }
  if (mask) {
    out[o + n] = mask[0]!;
    out[o + n + 1] = mask[1]!;
    out[o + n + 2] = mask[2]!;
    out[o + n + 3] = mask[3]!;
    n += 4;
  }
  return n;
}

export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** One complete frame (FIN set). With a mask, the payload is masked (client to server). */
export function buildFrame(opcode: number, payload: Buffer, mask: Uint8Array | null, rsv1 = false): Buffer {
  const out = Buffer.allocUnsafe(frameHeaderSize(payload.length, mask !== null) + payload.length);
  const n = writeHeader(out, 0, opcode, payload.length, mask, rsv1);
  if (mask) {
    for (let i = 0; i < payload.length; i++) out[n + i] = payload[i]! ^ mask[i & 3]!;
  } else {
    payload.copy(out, n);
  }
  return out;
}

/**
 * XORs `len` bytes of `buf` from `start` with the 4-byte `mask`, in place: bytes until the position is
 * word-aligned, then 32-bit words through an Int32Array view, then the tail.
 */
export function unmaskInPlace(buf: Buffer, start: number, len: number, mask: Uint8Array): void {
  let i = 0;
  const abs = buf.byteOffset + start;
  const lead = Math.min(len, (4 - (abs & 3)) & 3);
  for (; i < lead; i++) buf[start + i] = buf[start + i]! ^ mask[i & 3]!;
  const words = (len - i) >>> 2;
  if (words > 0) {
    // The mask as seen from an aligned word that starts `i` bytes into the payload, little-endian.
    const m = mask[i & 3]! | (mask[(i + 1) & 3]! << 8) | (mask[(i + 2) & 3]! << 16) | (mask[(i + 3) & 3]! << 24);
    const view = new Int32Array(buf.buffer, abs + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= m;
    i += words * 4;
  }
  for (; i < len; i++) buf[start + i] = buf[start + i]! ^ mask[i & 3]!;
}
