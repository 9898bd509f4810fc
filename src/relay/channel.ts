// Channel names: any path is a channel. `ws://host/lobby` is the channel "lobby", `ws://host/a/b` is
// "a/b", and `ws://host/` is the channel with the empty name. Names arrive percent-encoded in URLs.

import { checkChannel, type ChannelResult } from '../v1/protocol.js';

// The name rules live in the wavecast.v1 module, shared with the browser code.
export { checkChannel, MAX_CHANNEL_BYTES, type ChannelResult } from '../v1/protocol.js';

/** The channel a WebSocket upgrade request's target names (the query string is ignored). */
export function channelOfTarget(target: string | undefined): ChannelResult {
  const raw = target ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  if (!path.startsWith('/'))
    return { ok: false, message: `The request target must be a path starting with "/", not ${JSON.stringify(truncate(path))}` };
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

function truncate(text: string): string {
  return text.length > 64 ? text.slice(0, 64) + '…' : text;
}

/**
 * Told when a local client comes onto a channel or goes (a cluster node uses it to listen to the channel
 * on the broker and to tell other nodes of presence). `name` is the wavecast.v1 name, null for a plain
 * client; `user` the verified user id of a wavecast.v1 member that has one. `joined` resolves once
 * messages from every node reach this node in order.
 */
export interface ChannelWatch {
  joined(channel: string, name: string | null, user?: string): Promise<void>;
  left(channel: string, name: string | null, user?: string): void;
  /** Members of the channel on other nodes. */
  remote(channel: string): { names: string[]; plain: number };
}
