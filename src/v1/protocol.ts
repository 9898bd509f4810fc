// The `wavecast.v1` subprotocol (docs/protocol.md), the one module the relay and the browser client share:
// the JSON envelopes (one per text message, each with a `type`), the channel-name rules, parsing and
// checking what a client sends (bad input gives a typed error, never a throw), and building what the
// server sends. Pure: no Buffer, no Node API, no sockets, no timers (it is bundled into the browser).

export const V1_PROTOCOL = 'wavecast.v1';

/** Longest presence name, in characters. */
export const MAX_NAME_LENGTH = 64;
/** Longest request id, in characters (strings) — numbers are any safe integer. */
export const MAX_ID_LENGTH = 64;

export type RequestId = string | number;

// ------------------------------------------------------------------ channel names

/** Longest channel name accepted, in UTF-8 bytes. */
export const MAX_CHANNEL_BYTES = 256;

export type ChannelResult = { ok: true; channel: string } | { ok: false; message: string };

/**
 * Checks a decoded channel name: valid Unicode, bounded in length, no control characters. A name with a
 * lone surrogate (possible in JSON, as "\ud800") has no UTF-8 form: written to a broker it would become
 * U+FFFD and be merged with another channel, so it is refused wherever a name comes in.
 */
export function checkChannel(channel: string): ChannelResult {
  if (!isWellFormed(channel))
    return { ok: false, message: 'Channel names must be valid Unicode text (this one has a lone UTF-16 surrogate)' };
  if (utf8Length(channel) > MAX_CHANNEL_BYTES) {
    return { ok: false, message: `Channel names are at most ${MAX_CHANNEL_BYTES} bytes long` };
  }
  if (/[\u0000-\u001f\u007f]/.test(channel)) return { ok: false, message: 'Channel names may not contain control characters' };
  return { ok: true, channel };
}

/** Whether a string is valid Unicode: no lone surrogate (String#isWellFormed, which ES2022 types lack). */
export function isWellFormed(text: string): boolean {
  return !/\p{Cs}/u.test(text);
}

/**
 * The length of a string in UTF-8, as Buffer.byteLength gives it (a lone surrogate counts 3, as the
 * U+FFFD it becomes). Without Buffer, so that browsers have it too.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for its 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Whether a string is longer than `max` bytes in UTF-8, counting only when the UTF-16 length cannot tell. */
function longerThan(text: string, max: number): boolean {
  if (text.length > max) return true; // every unit is at least one byte
  if (text.length * 3 <= max) return false; // and at most three
  return utf8Length(text) > max;
}

// ------------------------------------------------------------------ client → server

export interface JoinEnvelope {
  type: 'join';
  channel: string;
  /** The last sequence number the client has seen on this channel: the server sends what came after. */
  since?: number;
  /** The epoch `since` belongs to (from an earlier `joined`). */
  epoch?: string;
  /** The name others see in presence (default: ""). */
  name?: string;
}
export interface LeaveEnvelope {
  type: 'leave';
  channel: string;
}
export interface PublishEnvelope {
  type: 'publish';
  channel: string;
  data: string;
  /** Asks for an `ack` carrying the sequence number given to the message. */
  id?: RequestId;
}
export interface PingEnvelope {
  type: 'ping';
  id?: RequestId;
}
/**
 * A user token (JWT), sent first when the connection came without one, or again before the token's exp
 * to stay connected (the fresh token must name the same user).
 */
export interface AuthEnvelope {
  type: 'auth';
  token: string;
  id?: RequestId;
}
export type ClientEnvelope = JoinEnvelope | LeaveEnvelope | PublishEnvelope | PingEnvelope | AuthEnvelope;

/** Longest token an `auth` envelope may carry, in characters. */
export const MAX_AUTH_TOKEN_LENGTH = 8192;

// ------------------------------------------------------------------ server → client

export interface PresenceInfo {
  /** How many wavecast.v1 connections have joined the channel. */
  count: number;
  /** Their names, one per connection (sorted). */
  names: string[];
}
export interface JoinedEnvelope {
  type: 'joined';
  channel: string;
  epoch: string;
  /** The newest sequence number the client has now been sent on this channel (0: none yet). */
  seq: number;
  /** How many missed messages were sent before this envelope. */
  recovered: number;
  presence: PresenceInfo;
  /** This connection's id: the relay puts it as `from` on every message this connection publishes. */
  you: string;
  /** The verified user's name, when the relay knows who this is (a token or the backend said so). */
  name?: string;
}
export interface MessageEnvelope {
  type: 'message';
  channel: string;
  seq: number;
  time: number;
  /** The text; base64 when `binary` is true. */
  data: string;
  binary?: true;
  /** The id of the wavecast.v1 connection that published it (set by the relay: it cannot be forged). */
  from?: string;
}
export type GapReason = 'expired' | 'reset';
export interface GapEnvelope {
  type: 'gap';
  channel: string;
  /** First and last sequence numbers that cannot be sent (`to` is unknown, 0, for a reset). */
  from: number;
  to: number;
  reason: GapReason;
  epoch: string;
  message: string;
}
export interface PresenceEnvelope {
  type: 'presence';
  channel: string;
  event: 'join' | 'leave';
  name: string;
  /** The verified user id of who joined or left (with users on; absent for a connection without a user). */
  user?: string;
  count: number;
}
/**
 * Joins and leaves of one second, when a channel has more than the relay sends one by one, with the count
 * after them: either the names that joined and left in all (a name that joined and left again is in
 * neither), or `names`, everyone there (to a member that joined during that second, or when too many
 * names changed); on a channel too large to list, neither, and `more` counts the changes.
 */
export type PresenceSummaryEnvelope =
  | { type: 'presence'; channel: string; count: number; joined: string[]; left: string[]; more?: number }
  | { type: 'presence'; channel: string; count: number; names: string[] };
export interface LeftEnvelope {
  type: 'left';
  channel: string;
  /** Set when the connection did not ask: the backend removed its user from the channel (server API). */
  reason?: 'removed';
}
export interface AckEnvelope {
  type: 'ack';
  id: RequestId;
  channel: string;
  seq: number;
}
/** The answer to a good `auth`: who the relay takes the connection to be, and until when (`exp`, seconds). */
export interface AuthedEnvelope {
  type: 'authed';
  user: string;
  name: string;
  exp?: number;
  id?: RequestId;
}
export interface PongEnvelope {
  type: 'pong';
  id?: RequestId;
  time: number;
}
export type ErrorCode =
  | 'bad_json'
  | 'bad_envelope'
  | 'unknown_type'
  | 'binary_frame'
  | 'bad_channel'
  | 'not_joined'
  | 'already_joined'
  | 'too_many_channels'
  | 'too_big'
  | 'unavailable'
  /** No valid token: the connection must send an `auth` envelope (the message says why it was refused). */
  | 'unauthorized'
  /** The user's token does not allow this join or publish; the connection stays open. */
  | 'forbidden';
export interface ErrorEnvelope {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** The request's id or channel, when the request had one. */
  id?: RequestId;
  channel?: string;
}
export type ServerEnvelope =
  | JoinedEnvelope
  | MessageEnvelope
  | GapEnvelope
  | PresenceEnvelope
  | PresenceSummaryEnvelope
  | LeftEnvelope
  | AckEnvelope
  | AuthedEnvelope
  | PongEnvelope
  | ErrorEnvelope;

// ------------------------------------------------------------------ parsing

export type ParseResult = { ok: true; envelope: ClientEnvelope } | { ok: false; error: ErrorEnvelope };

const CLIENT_TYPES = ['join', 'leave', 'publish', 'ping', 'auth'];

/** Parses one text message from a client. `maxData` bounds a publish's data (UTF-8 bytes). */
export function parseClientEnvelope(text: string, maxData: number): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(
      'bad_json',
      `The message is not JSON (${(error as Error).message}); wavecast.v1 messages are JSON envelopes such as {"type":"join","channel":"lobby"}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_envelope', 'An envelope is a JSON object with a "type"');
  }
  const raw = value as Record<string, unknown>;
  const type = raw.type;
  const id = raw.id;
  const channelHint = typeof raw.channel === 'string' ? raw.channel : undefined;
  const bad = (code: ErrorCode, message: string): ParseResult =>
    fail(code, message, checkId(id) === null ? (id as RequestId | undefined) : undefined, channelHint);
  if (typeof type !== 'string') return bad('bad_envelope', 'An envelope needs a "type" string');
  if (!CLIENT_TYPES.includes(type))
    return bad('unknown_type', `Unknown envelope type ${JSON.stringify(clip(type))}; a client sends ${CLIENT_TYPES.join(', ')}`);
  if (id !== undefined) {
    const idError = checkId(id);
    if (idError !== null) return fail('bad_envelope', idError, undefined, channelHint);
  }
  if (type === 'ping') return { ok: true, envelope: id === undefined ? { type } : { type, id: id as RequestId } };
  if (type === 'auth') {
    if (typeof raw.token !== 'string' || raw.token === '') return bad('bad_envelope', 'An "auth" envelope needs a "token" string');
    if (raw.token.length > MAX_AUTH_TOKEN_LENGTH) return bad('too_big', `Tokens are at most ${MAX_AUTH_TOKEN_LENGTH} characters long`);
    return { ok: true, envelope: id === undefined ? { type, token: raw.token } : { type, token: raw.token, id: id as RequestId } };
  }

  if (typeof raw.channel !== 'string') return bad('bad_envelope', `A "${type}" envelope needs a "channel" string`);
  const channel = checkChannel(raw.channel);
  if (!channel.ok) return bad('bad_channel', channel.message);

  if (type === 'leave') return { ok: true, envelope: { type, channel: channel.channel } };

  if (type === 'join') {
    const join: JoinEnvelope = { type, channel: channel.channel };
    if (raw.since !== undefined) {
      if (typeof raw.since !== 'number' || !Number.isSafeInteger(raw.since) || raw.since < 0) {
        return bad('bad_envelope', '"since" must be a sequence number: an integer, 0 or more');
      }
      join.since = raw.since;
    }
    if (raw.epoch !== undefined) {
      if (typeof raw.epoch !== 'string' || raw.epoch.length > 64)
        return bad('bad_envelope', '"epoch" must be the string a "joined" envelope gave');
      join.epoch = raw.epoch;
    }
    if (raw.name !== undefined) {
      if (typeof raw.name !== 'string') return bad('bad_envelope', '"name" must be a string');
      if (raw.name.length > MAX_NAME_LENGTH) return bad('too_big', `Names are at most ${MAX_NAME_LENGTH} characters long`);
      if (/[\u0000-\u001f\u007f]/.test(raw.name)) return bad('bad_envelope', 'Names may not contain control characters');
      if (!isWellFormed(raw.name)) return bad('bad_envelope', 'Names must be valid Unicode text (this one has a lone UTF-16 surrogate)');
      join.name = raw.name;
    }
    return { ok: true, envelope: join };
  }

  // publish
  if (typeof raw.data !== 'string') return bad('bad_envelope', 'A "publish" envelope needs "data", a string (send JSON as a string)');
  if (longerThan(raw.data, maxData)) return bad('too_big', `"data" is larger than the relay's limit of ${maxData} bytes`);
  const publish: PublishEnvelope = { type: 'publish', channel: channel.channel, data: raw.data };
  if (id !== undefined) publish.id = id as RequestId;
  return { ok: true, envelope: publish };
}

function checkId(id: unknown): string | null {
  if (id === undefined) return null;
  if (typeof id === 'string' && id.length <= MAX_ID_LENGTH) return null;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return null;
  return `"id" must be a string of at most ${MAX_ID_LENGTH} characters or an integer`;
}

function fail(code: ErrorCode, message: string, id?: RequestId, channel?: string): ParseResult {
  return { ok: false, error: errorEnvelope(code, message, id, channel) };
}

function clip(text: string): string {
  return text.length > 32 ? text.slice(0, 32) + '…' : text;
}

// ------------------------------------------------------------------ building

export function errorEnvelope(code: ErrorCode, message: string, id?: RequestId, channel?: string): ErrorEnvelope {
  const error: ErrorEnvelope = { type: 'error', code, message };
  if (id !== undefined) error.id = id;
  if (channel !== undefined) error.channel = clip(channel);
  return error;
}

/** The `message` envelope for a message whose `data` is its text, or its bytes in base64 when `binary`. */
export function messageEnvelope(message: {
  channel: string;
  seq: number;
  time: number;
  data: string;
  binary: boolean;
  from?: string | undefined;
}): MessageEnvelope {
  const data = message.data;
  // `from` before `data`: the data stays last but for `binary` (readers that find it from the end keep working).
  const envelope: MessageEnvelope =
    message.from === undefined
      ? { type: 'message', channel: message.channel, seq: message.seq, time: message.time, data }
      : { type: 'message', channel: message.channel, seq: message.seq, time: message.time, from: message.from, data };
  if (message.binary) envelope.binary = true;
  return envelope;
}

export function gapEnvelope(channel: string, from: number, to: number, reason: GapReason, epoch: string): GapEnvelope {
  const message =
    reason === 'expired'
      ? `Messages ${from} to ${to} of this channel are no longer in the relay's history; reload what you show of it`
      : `The relay's history was reset (it restarted): messages after ${from - 1} of the earlier epoch are unknown; reload what you show of this channel`;
  return { type: 'gap', channel, from, to, reason, epoch, message };
}

export function encode(envelope: ServerEnvelope): string {
  return envelope.type === 'message' ? encodeMessage(envelope) : JSON.stringify(envelope);
}

/**
 * The `message` envelope, the relay's most frequent (one per message published), written out directly:
 * the same text as JSON.stringify gives for what messageEnvelope() builds, without walking an object.
 */
function encodeMessage(m: MessageEnvelope): string {
  const binary = m.binary === true ? ',"binary":true' : '';
  const from = m.from !== undefined ? `"from":${JSON.stringify(m.from)},` : '';
  return `{"type":"message","channel":${JSON.stringify(m.channel)},"seq":${m.seq},"time":${m.time},${from}"data":${JSON.stringify(m.data)}${binary}}`;
}
