// The shapes the fuzzers work on: frames described field by field (so that a mutation can change one
// field, declare a length the payload does not have, or use a longer length encoding than needed), valid
// streams of messages with what a parser must report for them, and the mutations themselves, structural
// (on frames) and byte-level (on the encoded stream). Independent of src/protocol/frame.ts on purpose:
// the fuzzers check the parser against the RFC, not against our own encoder.

/** One frame, field by field. */
export interface FrameSpec {
  opcode: number;
  fin: boolean;
  /** RSV1, RSV2, RSV3 as bits 0b100, 0b010, 0b001. */
  rsv: number;
  /** The mask key, or null for an unmasked frame. */
  maskKey: readonly number[] | null;
  payload: Buffer;
  /** Force a length encoding (7, 16 or 64 bits) even when a shorter one would do. */
  lengthBits?: 7 | 16 | 64;
  /** Declare this length (up to 2^64 - 1) instead of the payload's. */
  declaredLength?: bigint;
}

/** Encodes a frame spec, masking its payload. */
export function encodeSpec(frame: FrameSpec): Buffer {
  const length = frame.declaredLength ?? BigInt(frame.payload.length);
  const minimal: 7 | 16 | 64 = length < 126n ? 7 : length < 65536n ? 16 : 64;
  let bits = frame.lengthBits ?? minimal;
  if ((bits === 7 && length >= 126n) || (bits === 16 && length >= 65536n)) bits = minimal;
  const masked = frame.maskKey !== null;
  const head = Buffer.alloc(2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (masked ? 4 : 0));
  head[0] = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  let o = 2;
  if (bits === 7) {
    head[1] = maskBit | Number(length);
  } else if (bits === 16) {
    head[1] = maskBit | 126;
    head.writeUInt16BE(Number(length), 2);
    o = 4;
  } else {
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(length & 0xffff_ffff_ffff_ffffn, 2);
    o = 10;
  }
  const body = Buffer.from(frame.payload);
  if (masked) {
    const key = frame.maskKey!;
    for (let i = 0; i < 4; i++) head[o + i] = key[i]! & 0xff;
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ (key[i & 3]! & 0xff);
  }
  return Buffer.concat([head, body]);
}

export function encodeSpecs(frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat(frames.map(encodeSpec));
}

// ---------------------------------------------------------------- valid streams and their events

/** What a parser reports, with data copied out so that events can be compared. */
export type ParsedEvent =
  | { type: 'message'; data: Buffer; isBinary: boolean; compressed: boolean }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: Buffer }
  | { type: 'error'; closeCode: number; code: string; message: string };

/** A data message of a valid stream, cut into fragments, with control frames between them. */
export interface DataItem {
  kind: 'data';
  opcode: 1 | 2;
  payload: Buffer;
  /** Sizes of all fragments but the last (which takes the rest). */
  cuts: number[];
  /** RSV1 on the first frame (a compressed message: the parser does not look inside). */
  compressed: boolean;
  /** Control frames sent after fragment i (index into cuts), before the next fragment. */
  between: Array<{ after: number; opcode: 9 | 10; payload: Buffer }>;
}
export interface ControlItem {
  kind: 'control';
  opcode: 9 | 10;
  payload: Buffer;
}
export interface CloseItem {
  kind: 'close';
  /** No payload at all when null (reported as 1005). */
  code: number | null;
  reason: Buffer;
}
export type StreamItem = DataItem | ControlItem | CloseItem;

/** Turns a stream plan into frame specs, masked with `maskKey` (null for unmasked frames). */
export function planFrames(items: readonly StreamItem[], maskKey: readonly number[] | null): FrameSpec[] {
  const frames: FrameSpec[] = [];
  const frame = (opcode: number, fin: boolean, rsv: number, payload: Buffer): FrameSpec => ({ opcode, fin, rsv, maskKey, payload });
  for (const item of items) {
    if (item.kind === 'control') {
      frames.push(frame(item.opcode, true, 0, item.payload));
    } else if (item.kind === 'close') {
      frames.push(frame(8, true, 0, closeBytes(item.code, item.reason)));
    } else {
      const pieces = cutPayload(item.payload, item.cuts);
      pieces.forEach((piece, i) => {
        const first = i === 0;
        frames.push(frame(first ? item.opcode : 0, i === pieces.length - 1, first && item.compressed ? 4 : 0, piece));
        for (const control of item.between)
          if (control.after === i && i < pieces.length - 1) frames.push(frame(control.opcode, true, 0, control.payload));
      });
    }
  }
  return frames;
}

/** The events a parser must report for a valid stream (nothing after a close frame). */
export function planEvents(items: readonly StreamItem[]): ParsedEvent[] {
  const events: ParsedEvent[] = [];
  for (const item of items) {
    if (item.kind === 'control') {
      events.push({ type: item.opcode === 9 ? 'ping' : 'pong', data: item.payload });
    } else if (item.kind === 'close') {
      events.push({ type: 'close', code: item.code ?? 1005, reason: item.code === null ? Buffer.alloc(0) : item.reason });
      break;
    } else {
      const pieces = cutPayload(item.payload, item.cuts);
      pieces.forEach((_, i) => {
        for (const control of item.between) {
          if (control.after === i && i < pieces.length - 1)
            events.push({ type: control.opcode === 9 ? 'ping' : 'pong', data: control.payload });
        }
      });
      events.push({ type: 'message', data: item.payload, isBinary: item.opcode === 2, compressed: item.compressed });
    }
  }
  return events;
}

/** Splits a payload at the given fragment sizes (each clamped to what is left). */
export function cutPayload(payload: Buffer, cuts: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const cut of cuts) {
    const size = Math.min(cut, payload.length - offset);
    pieces.push(payload.subarray(offset, offset + size));
    offset += size;
  }
  pieces.push(payload.subarray(offset));
  return pieces;
}

export function closeBytes(code: number | null, reason: Buffer): Buffer {
  if (code === null) return Buffer.alloc(0);
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(code, 0);
  reason.copy(out, 2);
  return out;
}

// ---------------------------------------------------------------- mutations

/** Interesting lengths to declare: around the encodings' edges, maxPayload's, and the 63-bit limits. */
export const EDGE_LENGTHS: readonly bigint[] = [
  0n,
  1n,
  125n,
  126n,
  127n,
  65535n,
  65536n,
  1n << 20n,
  (1n << 20n) + 1n,
  (1n << 31n) - 1n,
  1n << 31n,
  1n << 32n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

/** Byte sequences that are never valid UTF-8 wherever they stand (or that break the sequence they land in). */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0x80],
  [0xbf],
  [0xc2],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];

/** A change to the list of frames. Positions are taken modulo what they index, so any mutation applies to any stream. */
export type FrameMutation =
  | { op: 'opcode'; at: number; opcode: number }
  | { op: 'fin'; at: number }
  | { op: 'rsv'; at: number; rsv: number }
  | { op: 'mask'; at: number }
  | { op: 'declare'; at: number; length: bigint }
  | { op: 'lengthBits'; at: number; bits: 7 | 16 | 64 }
  | { op: 'drop'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'insert'; at: number; frame: FrameSpec }
  | { op: 'split'; at: number; cut: number }
  | { op: 'badUtf8'; at: number; pos: number; seq: number }
  | { op: 'payloadBit'; at: number; pos: number; bit: number };

/** A change to the encoded bytes. */
export type ByteMutation =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; pos: number }
  | { op: 'delete'; pos: number; length: number }
  | { op: 'insert'; pos: number; bytes: Buffer }
  | { op: 'splice'; pos: number; other: Buffer; from: number }
  | { op: 'repeat'; pos: number; length: number; times: number };

export function applyFrameMutations(frames: readonly FrameSpec[], mutations: readonly FrameMutation[]): FrameSpec[] {
  const out = frames.map((f) => ({ ...f }));
  for (const m of mutations) {
    if (m.op === 'insert') {
      out.splice(m.at % (out.length + 1), 0, { ...m.frame });
      continue;
    }
    if (out.length === 0) continue;
    const i = m.at % out.length;
    const f = out[i]!;
    switch (m.op) {
      case 'opcode':
        f.opcode = m.opcode & 0x0f;
        break;
      case 'fin':
        f.fin = !f.fin;
        break;
      case 'rsv':
        f.rsv = m.rsv & 7;
        break;
      case 'mask':
        f.maskKey = f.maskKey === null ? [0x12, 0x34, 0x56, 0x78] : null;
        break;
      case 'declare':
        f.declaredLength = m.length;
        break;
      case 'lengthBits':
        f.lengthBits = m.bits;
        break;
      case 'drop':
        out.splice(i, 1);
        break;
      case 'duplicate':
        out.splice(i, 0, { ...f });
        break;
      case 'swap': {
        const j = m.with % out.length;
        out[i] = out[j]!;
        out[j] = f;
        break;
      }
      case 'split': {
        // One frame becomes two: the first keeps the opcode and loses FIN, the second continues.
        const cut = m.cut % (f.payload.length + 1);
        const second: FrameSpec = { ...f, opcode: 0, rsv: 0, payload: f.payload.subarray(cut) };
        f.payload = f.payload.subarray(0, cut);
        f.fin = false;
        out.splice(i + 1, 0, second);
        break;
      }
      case 'badUtf8': {
        const seq = INVALID_UTF8[m.seq % INVALID_UTF8.length]!;
        const pos = m.pos % (f.payload.length + 1);
        f.payload = Buffer.concat([f.payload.subarray(0, pos), Buffer.from(seq), f.payload.subarray(pos)]);
        break;
      }
      case 'payloadBit': {
        if (f.payload.length === 0) break;
        const copy = Buffer.from(f.payload);
        copy[m.pos % copy.length]! ^= 1 << (m.bit & 7);
        f.payload = copy;
        break;
      }
    }
  }
  return out;
}

export function applyByteMutations(bytes: Buffer, mutations: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const n = out.length;
    switch (m.op) {
      case 'flip':
        if (n > 0) out[m.pos % n]! ^= 1 << (m.bit & 7);
        break;
      case 'set':
        if (n > 0) out[m.pos % n] = m.value & 0xff;
        break;
      case 'truncate':
        out = out.subarray(0, m.pos % (n + 1));
        break;
      case 'delete': {
        const pos = m.pos % (n + 1);
        out = Buffer.concat([out.subarray(0, pos), out.subarray(Math.min(n, pos + m.length))]);
        break;
      }
      case 'insert': {
        const pos = m.pos % (n + 1);
        out = Buffer.concat([out.subarray(0, pos), m.bytes, out.subarray(pos)]);
        break;
      }
      case 'splice': {
        // The head of this stream, then the tail of another one.
        const pos = m.pos % (n + 1);
        out = Buffer.concat([out.subarray(0, pos), m.other.subarray(m.from % (m.other.length + 1))]);
        break;
      }
      case 'repeat': {
        const pos = m.pos % (n + 1);
        const piece = out.subarray(pos, Math.min(n, pos + m.length));
        out = Buffer.concat([out.subarray(0, pos), ...Array<Buffer>(1 + (m.times % 64)).fill(piece), out.subarray(pos)]);
        break;
      }
    }
  }
  return out;
}

/**
 * Cuts `bytes` into chunks of the given sizes, cycled (each at least 1), copying each chunk. A long
 * stream is cut into at most `maxChunks` chunks (small sizes are scaled up), to keep a run quick.
 */
export function chunksOf(bytes: Buffer, sizes: readonly number[], maxChunks = 4096): Buffer[] {
  const out: Buffer[] = [];
  const floor = Math.ceil(bytes.length / maxChunks);
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, floor, sizes.length === 0 ? bytes.length : sizes[i++ % sizes.length]!);
    out.push(Buffer.from(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  return out;
}
