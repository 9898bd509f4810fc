// The wire format of a message carried between nodes: one Buffer, so that it is one Redis PUBLISH or one
// NATS message, binary-safe whatever the payload holds.
//
//   offset  size  field
//   0       1     version: 1
//   1       1     flags: bit 0 set = binary message, clear = text; bits 1-7 are reserved and must be 0
//   2       8     node id: the publishing adapter's random id (so a node ignores its own messages)
//   10      2     topic length in bytes, unsigned big-endian
//   12      n     topic, UTF-8
//   12 + n  rest  payload, as published
//
// Pure: no sockets, no brokers.
import { isUtf8 } from 'node:buffer';

export const WIRE_VERSION = 1;
export const HEADER_BYTES = 12;
export const NODE_ID_BYTES = 8;
/** Longest topic, in UTF-8 bytes, that a broker adapter carries (the same on every broker). */
export const MAX_TOPIC_BYTES = 1024;

const FLAG_BINARY = 0x01;
const KNOWN_FLAGS = FLAG_BINARY;

export interface ClusterMessage {
  /** The publishing node's id (8 bytes). A view into the message. */
  nodeId: Buffer;
  topic: string;
  /** A view into the message (not a copy). */
  payload: Buffer;
  binary: boolean;
}

/**
 * Checks that `topic` can be carried between nodes: a well-formed string (no lone surrogates, which
 * would not survive UTF-8) of at most MAX_TOPIC_BYTES. Returns its byte length; throws otherwise.
 */
export function checkTopic(topic: string): number {
  if (typeof topic !== 'string') throw new TypeError(`Invalid topic: expected a string, got ${typeof topic}`);
  const bytes = Buffer.byteLength(topic);
  if (bytes > MAX_TOPIC_BYTES) {
    throw new RangeError(`Topic too long for a cluster adapter: ${bytes} bytes (at most ${MAX_TOPIC_BYTES})`);
  }
  if (LONE_SURROGATE.test(topic)) throw new TypeError('Invalid topic: it contains a lone UTF-16 surrogate, which UTF-8 cannot carry');
  return bytes;
}

// With the u flag, a surrogate pair is one code point, so this matches only lone surrogates.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Builds the one Buffer that carries a message. `topicBytes` is checkTopic(topic). */
export function encodeMessage(nodeId: Buffer, topic: string, topicBytes: number, payload: Uint8Array, binary: boolean): Buffer {
  if (nodeId.length !== NODE_ID_BYTES) throw new RangeError(`A node id is ${NODE_ID_BYTES} bytes`);
  const message = Buffer.allocUnsafe(HEADER_BYTES + topicBytes + payload.length);
  message[0] = WIRE_VERSION;
  message[1] = binary ? FLAG_BINARY : 0;
  nodeId.copy(message, 2);
  message.writeUInt16BE(topicBytes, 10);
  message.write(topic, HEADER_BYTES, 'utf8');
  message.set(payload, HEADER_BYTES + topicBytes);
  return message;
}

/** Reads a message; returns a string saying what is wrong with it instead when it is not one. */
export function decodeMessage(message: Uint8Array): ClusterMessage | string {
  const buffer = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buffer.length < HEADER_BYTES) return `too short for a header (${buffer.length} bytes)`;
  if (buffer[0] !== WIRE_VERSION) return `unknown version ${buffer[0]}`;
  const flags = buffer[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags 0x${flags.toString(16)}`;
  const topicBytes = buffer.readUInt16BE(10);
  if (HEADER_BYTES + topicBytes > buffer.length) return `topic length ${topicBytes} runs past the end (${buffer.length} bytes)`;
  const topic = buffer.subarray(HEADER_BYTES, HEADER_BYTES + topicBytes);
  if (!isUtf8(topic)) return 'the topic is not valid UTF-8';
  return {
    nodeId: buffer.subarray(2, 2 + NODE_ID_BYTES),
    topic: topic.toString('utf8'),
    payload: buffer.subarray(HEADER_BYTES + topicBytes),
    binary: (flags & FLAG_BINARY) !== 0,
  };
}
