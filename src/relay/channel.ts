// Channel names: any path is a channel. `ws://host/lobby` is the channel "lobby", `ws://host/a/b` is
// "a/b", and `ws://host/` is the channel with the empty name. Names arrive percent-encoded in URLs.

/** Longest channel name accepted, in UTF-8 bytes. */
export const MAX_CHANNEL_BYTES = 256;

export type ChannelResult = { ok: true; channel: string } | { ok: false; message: string };

/** The channel a WebSocket upgrade request's target names (the query string is ignored). */
export function channelOfTarget(target: string | undefined): ChannelResult {
  const raw = target ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  if (!path.startsWith('/')) return { ok: false, message: `The request target must be a path starting with "/", not ${JSON.stringify(truncate(path))}` };
  return decodeChannel(path.slice(1));
}

/** Decodes and checks a percent-encoded channel name (as found in a path). */
export function decodeChannel(encoded: string): ChannelResult {
  let channel: string;
  try {
    channel = decodeURIComponent(encoded);
  } catch {
    return { ok: false, message: `The channel name ${JSON.stringify(truncate(encoded))} is not valid percent-encoding` };
  }
  return checkChannel(channel);
}

/**
 * Checks a decoded channel name: valid Unicode, bounded in length, no control characters. A name with a
 * lone surrogate (possible in JSON, as "\ud800") has no UTF-8 form: written to a broker it would become
 * U+FFFD and be merged with another channel, so it is refused wherever a name comes in.
 */
export function checkChannel(channel: string): ChannelResult {
  if (!isWellFormed(channel)) return { ok: false, message: 'Channel names must be valid Unicode text (this one has a lone UTF-16 surrogate)' };
  if (Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
    return { ok: false, message: `Channel names are at most ${MAX_CHANNEL_BYTES} bytes long` };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(channel)) return { ok: false, message: 'Channel names may not contain control characters' };
  return { ok: true, channel };
}

/** Whether a string is valid Unicode: no lone surrogate (String#isWellFormed, which ES2022 types lack). */
export function isWellFormed(text: string): boolean {
  return !/\p{Cs}/u.test(text);
}

function truncate(text: string): string {
  return text.length > 64 ? text.slice(0, 64) + '…' : text;
}

/**
 * Told when a local client comes onto a channel or goes (a cluster node uses it to listen to the channel
 * on the broker and to tell other nodes of presence). `name` is the wavecast.v1 name, null for a plain
 * client. `joined` resolves once messages from every node reach this node in order.
 */
export interface ChannelWatch {
  joined(channel: string, name: string | null): Promise<void>;
  left(channel: string, name: string | null): void;
  /** Members of the channel on other nodes. */
  remote(channel: string): { names: string[]; plain: number };
}
