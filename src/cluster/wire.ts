// The one wire format of a message carried between nodes: one Buffer, so that it is one Redis PUBLISH or
// one NATS message, binary-safe whatever the payload holds.
//
//   offset  size  field
//   0       1     version: 1 (the only version byte: nothing nested inside has one of its own)
//   1       1     flags: bit 0 set = binary message, clear = text; bit 1 = a stamp follows the topic;
//                 bit 2 = the stamp carries a publisher id (only with bit 1); bits 3-7 are reserved, 0
//   2       8     node id: the publishing adapter's random id (so a node ignores its own messages)
//   10      2     topic length in bytes, unsigned big-endian
//   12      n     topic, UTF-8
//   then, with bit 1 only (a plain publish has no stamp, and so nothing more than the above):
//           8     stamp: sequence number, float64 big-endian (a non-negative safe integer)
//           8     stamp: time, ms since 1970, float64 big-endian
//           1     stamp: epoch length in bytes (at most 255), then the epoch, UTF-8
//           1     with bit 2: publisher id ("from") length in bytes (at most 255), then the id, UTF-8
//   rest          payload, as published
//
// Pure: no sockets, no brokers.
import { isUtf8 } from 'node:buffer';
import type { ClusterStamp } from '../server/cluster-hook.js';

export const WIRE_VERSION = 1;
export const HEADER_BYTES = 12;
export const NODE_ID_BYTES = 8;
/** Longest topic, in UTF-8 bytes, that a broker adapter carries (the same on every broker). */
export const MAX_TOPIC_BYTES = 1024;
/** Longest epoch, and longest publisher id, of a stamp, in UTF-8 bytes. */
export const MAX_STAMP_TEXT_BYTES = 255;

const FLAG_BINARY = 0x01;
const FLAG_STAMP = 0x02;
const FLAG_FROM = 0x04;
const KNOWN_FLAGS = FLAG_BINARY | FLAG_STAMP | FLAG_FROM;
/** Sequence number and time, and the epoch's length byte. */
const STAMP_FIXED_BYTES = 17;

export interface ClusterMessage {
  /** The publishing node's id (8 bytes). A view into the message. */
  nodeId: Buffer;
  topic: string;
  /** A view into the message (not a copy). */
  payload: Buffer;
  binary: boolean;
  /** Present when the publisher stamped the message. */
  stamp?: ClusterStamp;
}

/**
 * Checks that `topic` can be carried between nodes: a well-formed string (no lone surrogates, which
 * would not survive UTF-8) of at most MAX_TOPIC_BYTES. Returns its byte length; throws otherwise.
 */
export function checkTopic(topic: string): number {
  return checkText('topic', topic, MAX_TOPIC_BYTES);
}

/**
 * Checks that `stamp` can be carried: a sequence number that is a non-negative safe integer, a finite
 * time, an epoch and an optional publisher id of at most MAX_STAMP_TEXT_BYTES each. Returns how many
 * bytes it takes in a message; throws a TypeError or RangeError otherwise.
 */
export function checkStamp(stamp: ClusterStamp): number {
  if (stamp === null || typeof stamp !== 'object')
    throw new TypeError(`Invalid stamp: expected an object, got ${stamp === null ? 'null' : typeof stamp}`);
  if (!Number.isSafeInteger(stamp.seq) || stamp.seq < 0)
    throw new RangeError(`Invalid stamp seq: ${String(stamp.seq)} (expected a non-negative safe integer)`);
  if (typeof stamp.time !== 'number' || !Number.isFinite(stamp.time))
    throw new RangeError(`Invalid stamp time: ${String(stamp.time)} (expected a finite number)`);
  let bytes = STAMP_FIXED_BYTES + checkText('stamp epoch', stamp.epoch, MAX_STAMP_TEXT_BYTES);
  if (stamp.from !== undefined) bytes += 1 + checkText('stamp from', stamp.from, MAX_STAMP_TEXT_BYTES);
  return bytes;
}

/** The size of a message: `topicBytes` is checkTopic(topic); a stamp is checked (checkStamp). */
export function messageBytes(topicBytes: number, payloadBytes: number, stamp?: ClusterStamp): number {
  return HEADER_BYTES + topicBytes + (stamp === undefined ? 0 : checkStamp(stamp)) + payloadBytes;
}

/**
 * Builds the one Buffer that carries a message. `topicBytes` is checkTopic(topic); `bytes` is
 * messageBytes(topicBytes, payload.length, stamp), which checks the stamp (pass it when it is known).
 */
export function encodeMessage(
  nodeId: Buffer,
  topic: string,
  topicBytes: number,
  payload: Uint8Array,
  binary: boolean,
  stamp?: ClusterStamp,
  bytes: number = messageBytes(topicBytes, payload.length, stamp),
): Buffer {
  if (nodeId.length !== NODE_ID_BYTES) throw new RangeError(`A node id is ${NODE_ID_BYTES} bytes`);
  const message = Buffer.allocUnsafe(bytes);
  message[0] = WIRE_VERSION;
  message[1] = (binary ? FLAG_BINARY : 0) | (stamp === undefined ? 0 : FLAG_STAMP | (stamp.from === undefined ? 0 : FLAG_FROM));
  nodeId.copy(message, 2);
  message.writeUInt16BE(topicBytes, 10);
  let offset = HEADER_BYTES + message.write(topic, HEADER_BYTES, 'utf8');
  if (stamp !== undefined) {
    offset = message.writeDoubleBE(stamp.seq, offset);
    offset = message.writeDoubleBE(stamp.time, offset);
    offset = writeShortText(message, stamp.epoch, offset);
    if (stamp.from !== undefined) offset = writeShortText(message, stamp.from, offset);
  }
  message.set(payload, offset);
  return message;
}

/** Reads a message; returns a string saying what is wrong with it instead when it is not one. */
export function decodeMessage(message: Uint8Array): ClusterMessage | string {
  const buffer = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buffer.length < HEADER_BYTES) return `too short for a header (${buffer.length} bytes)`;
  if (buffer[0] !== WIRE_VERSION) return `unknown version ${buffer[0]}`;
  const flags = buffer[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags 0x${flags.toString(16)}`;
  if ((flags & (FLAG_STAMP | FLAG_FROM)) === FLAG_FROM) return 'a publisher id without a stamp (flags 0x4 without 0x2)';
  const topicBytes = buffer.readUInt16BE(10);
  let offset = HEADER_BYTES + topicBytes;
  if (offset > buffer.length) return `topic length ${topicBytes} runs past the end (${buffer.length} bytes)`;
  const topic = buffer.subarray(HEADER_BYTES, offset);
  if (!isUtf8(topic)) return 'the topic is not valid UTF-8';
  let stamp: ClusterStamp | undefined;
  if ((flags & FLAG_STAMP) !== 0) {
    if (offset + STAMP_FIXED_BYTES > buffer.length) return `the stamp runs past the end (${buffer.length} bytes)`;
    const seq = buffer.readDoubleBE(offset);
    if (!Number.isSafeInteger(seq) || seq < 0) return `the stamp's sequence number ${seq} is not a non-negative integer`;
    const time = buffer.readDoubleBE(offset + 8);
    if (!Number.isFinite(time)) return `the stamp's time ${time} is not a finite number`;
    const epoch = readShortText(buffer, offset + 16, 'epoch');
    if (typeof epoch === 'string') return epoch;
    offset = epoch.end;
    stamp = { seq, time, epoch: epoch.text };
    if ((flags & FLAG_FROM) !== 0) {
      const from = readShortText(buffer, offset, 'publisher id');
      if (typeof from === 'string') return from;
      offset = from.end;
      stamp.from = from.text;
    }
  }
  const decoded: ClusterMessage = {
    nodeId: buffer.subarray(2, 2 + NODE_ID_BYTES),
    topic: topic.toString('utf8'),
    payload: buffer.subarray(offset),
    binary: (flags & FLAG_BINARY) !== 0,
  };
  if (stamp !== undefined) decoded.stamp = stamp;
  return decoded;
}

/** Checks a string carried in a message: returns its UTF-8 length, or throws saying what is wrong. */
function checkText(name: string, value: string, max: number): number {
  if (typeof value !== 'string') throw new TypeError(`Invalid ${name}: expected a string, got ${typeof value}`);
  const bytes = Buffer.byteLength(value);
  if (bytes > max) {
    throw new RangeError(`${name[0]!.toUpperCase()}${name.slice(1)} too long for a cluster adapter: ${bytes} bytes (at most ${max})`);
  }
  if (LONE_SURROGATE.test(value)) throw new TypeError(`Invalid ${name}: it contains a lone UTF-16 surrogate, which UTF-8 cannot carry`);
  return bytes;
}

// With the u flag, a surrogate pair is one code point, so this matches only lone surrogates.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Writes a length byte and a string checked by checkText (at most 255 bytes); returns the offset after it. */
function writeShortText(message: Buffer, text: string, offset: number): number {
  const bytes = message.write(text, offset + 1, 'utf8');
  message[offset] = bytes;
  return offset + 1 + bytes;
}

/** Reads a length byte and that many bytes of UTF-8 at `offset`, or says what is wrong. */
function readShortText(buffer: Buffer, offset: number, name: string): { text: string; end: number } | string {
  if (offset >= buffer.length) return `the stamp's ${name} length runs past the end (${buffer.length} bytes)`;
  const end = offset + 1 + buffer[offset]!;
  if (end > buffer.length) return `the stamp's ${name} length ${buffer[offset]} runs past the end (${buffer.length} bytes)`;
  const bytes = buffer.subarray(offset + 1, end);
  if (!isUtf8(bytes)) return `the stamp's ${name} is not valid UTF-8`;
  return { text: bytes.toString('utf8'), end };
}
