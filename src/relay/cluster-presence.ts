// Presence across the nodes of a relay cluster: who (wavecast.v1 names) and how many (plain and v1
// connections) are on each channel, on every node.
//
// Each node tells the others, through the broker adapter, about its own members only:
//   - a delta per change ({t:'d'}: one channel's whole local state, and the join or leave that changed it),
//     numbered by a per-node version;
//   - a heartbeat every `interval` ms ({t:'h'}, with the version): a receiver that missed a delta (its
//     version is behind) or does not know the node asks it for its full state ({t:'q'}), answered with
//     {t:'f'};
//   - on a graceful stop, a goodbye ({t:'x'}).
// Under churn, a channel's deltas are paced: the first few of a second go at once (with the join or leave
// that made them), later ones are merged into one delta at the end of the second (the state alone:
// receivers compare it with what they had), so churn costs at most a few broker messages per channel a
// second, each with the channel's names once, rather than one per join or leave.
// A node that is heard from for 3 intervals is dropped with all its members (a leave event for each), so
// a node killed without a goodbye leaves no ghosts for longer than that. Broker-agnostic on purpose: the
// same code serves Redis and NATS, and join/leave events reach other nodes in one broker hop.
import { UpdatePacer } from './update-pacer.js';

export interface ChannelPresence {
  /** Names of the wavecast.v1 members (one entry per connection, "" for none given). */
  names: string[];
  /** Plain connections. */
  plain: number;
  /** [user id, name] of each connection (v1 or plain) of a verified user; absent when there are none. */
  users?: Array<[string, string]>;
}

/** One join or leave: the wavecast.v1 name, and the verified user id of a member that has one. */
export interface PresenceChange {
  event: 'join' | 'leave';
  name: string;
  user?: string;
}

/** A change as a delta carries it (no `user` key for a member without one). */
export function change(event: 'join' | 'leave', name: string, user?: string): PresenceChange {
  return user === undefined ? { event, name } : { event, name, user };
}

export type PresenceMessage =
  | { t: 'd'; n: string; v: number; c: string; s: ChannelPresence; e?: PresenceChange }
  | { t: 'h'; n: string; v: number }
  | { t: 'q'; n: string; to?: string }
  | { t: 'f'; n: string; v: number; s: Record<string, ChannelPresence> }
  | { t: 'x'; n: string };

export interface ClusterPresenceOptions {
  nodeId: string;
  /** Heartbeat interval (ms); a node silent for 3 of them is dropped. */
  interval: number;
  /** Sends a presence message to every other node. */
  send(message: PresenceMessage): void;
  /** This node's own members of a channel, and the channels it has members on. */
  local(channel: string): ChannelPresence;
  localChannels(): string[];
  /** Someone on another node joined or left a channel (to tell this node's v1 members); `user` when known. */
  changed(channel: string, event: 'join' | 'leave', name: string, user?: string): void;
  /** Deltas of one channel sent at once per second (default 5); later ones in that second are merged. */
  updates?: number;
  now?: () => number;
}

interface RemoteNode {
  version: number;
  expires: number;
  channels: Map<string, ChannelPresence>;
}

export class ClusterPresence {
  private readonly _nodes = new Map<string, RemoteNode>();
  private _version = 0;
  private _timer: NodeJS.Timeout | null = null;
  private readonly _now: () => number;
  private readonly _pacer: UpdatePacer<string>;

  constructor(private readonly _options: ClusterPresenceOptions) {
    this._now = _options.now ?? Date.now;
    this._pacer = new UpdatePacer({ burst: _options.updates ?? 5, interval: 1000, flush: (channel) => this._sendDelta(channel) });
  }

  /** Starts the heartbeats and asks every node for its state. */
  start(): void {
    this._options.send({ t: 'q', n: this._options.nodeId });
    this._timer = setInterval(() => this._tick(), this._options.interval);
    this._timer.unref?.();
  }

  /** Says goodbye and stops. */
  stop(): void {
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
    this._pacer.stop();
    this._options.send({ t: 'x', n: this._options.nodeId });
  }

  /** After the link to the broker came back: deltas sent meanwhile were lost, so everyone resynchronises. */
  resync(): void {
    this._options.send({ t: 'f', n: this._options.nodeId, v: ++this._version, s: this._fullState() });
    this._options.send({ t: 'q', n: this._options.nodeId });
  }

  /** This node's members of `channel` changed: told at once, or merged into the channel's next paced delta. */
  localChanged(channel: string, change?: PresenceChange): void {
    if (this._pacer.offer(channel)) this._sendDelta(channel, change);
  }

  private _sendDelta(channel: string, change?: PresenceChange): void {
    const message: PresenceMessage = { t: 'd', n: this._options.nodeId, v: ++this._version, c: channel, s: this._options.local(channel) };
    if (change !== undefined) message.e = change;
    this._options.send(message);
  }

  /** Members of other nodes on a channel. */
  remote(channel: string): ChannelPresence {
    const names: string[] = [];
    const users: Array<[string, string]> = [];
    let plain = 0;
    for (const node of this._nodes.values()) {
      const state = node.channels.get(channel);
      if (state === undefined) continue;
      names.push(...state.names);
      plain += state.plain;
      if (Array.isArray(state.users)) users.push(...state.users);
    }
    return users.length > 0 ? { names, plain, users } : { names, plain };
  }

  /** The channels other nodes have members on. */
  remoteChannels(): string[] {
    const channels = new Set<string>();
    for (const node of this._nodes.values()) for (const channel of node.channels.keys()) channels.add(channel);
    return [...channels];
  }

  /** The nodes heard from (tests, metrics). */
  get nodes(): number {
    return this._nodes.size;
  }

  receive(message: PresenceMessage): void {
    const me = this._options.nodeId;
    if (message.n === me) return;
    switch (message.t) {
      case 'q':
        // A node that asks is alive (a new one has no members yet; its heartbeats say if it has more).
        if (!this._nodes.has(message.n)) this._add(message.n);
        if (message.to === undefined || message.to === me) this._options.send({ t: 'f', n: me, v: this._version, s: this._fullState() });
        return;
      case 'x':
        this._drop(message.n);
        return;
      case 'h': {
        const node = this._nodes.get(message.n);
        if (node === undefined || node.version !== message.v) this._options.send({ t: 'q', n: me, to: message.n });
        if (node !== undefined) node.expires = this._expiry();
        return;
      }
      case 'd': {
        let node = this._nodes.get(message.n);
        if (node === undefined || message.v !== node.version + 1) this._options.send({ t: 'q', n: me, to: message.n });
        node ??= this._add(message.n);
        node.version = Math.max(node.version, message.v);
        node.expires = this._expiry();
        this._set(node, message.c, message.s, message.e);
        return;
      }
      case 'f': {
        const node = this._nodes.get(message.n) ?? this._add(message.n);
        if (message.v < node.version) return;
        node.version = message.v;
        node.expires = this._expiry();
        const channels = new Set([...node.channels.keys(), ...Object.keys(message.s)]);
        for (const channel of channels) this._set(node, channel, message.s[channel] ?? { names: [], plain: 0 });
        return;
      }
    }
  }

  private _add(id: string): RemoteNode {
    const node: RemoteNode = { version: 0, expires: this._expiry(), channels: new Map() };
    this._nodes.set(id, node);
    return node;
  }

  /** Replaces a node's state of a channel; tells of each name that came or went. */
  private _set(node: RemoteNode, channel: string, state: ChannelPresence, change?: PresenceChange): void {
    const old = node.channels.get(channel);
    const before = old?.names ?? [];
    if (state.names.length === 0 && state.plain === 0) node.channels.delete(channel);
    else node.channels.set(channel, { names: [...state.names], plain: state.plain, ...userPairs(state.users) });
    if (change !== undefined) {
      this._options.changed(channel, change.event, change.name, typeof change.user === 'string' ? change.user : undefined);
      return;
    }
    const { joined, left } = difference(before, state.names);
    for (const name of left) this._options.changed(channel, 'leave', name, userNamed(old?.users, name));
    for (const name of joined) this._options.changed(channel, 'join', name, userNamed(state.users, name));
  }

  private _drop(id: string): void {
    const node = this._nodes.get(id);
    if (node === undefined) return;
    this._nodes.delete(id);
    for (const [channel, state] of node.channels)
      for (const name of state.names) this._options.changed(channel, 'leave', name, userNamed(state.users, name));
  }

  private _tick(): void {
    this._options.send({ t: 'h', n: this._options.nodeId, v: this._version });
    const now = this._now();
    for (const [id, node] of this._nodes) if (node.expires < now) this._drop(id);
  }

  private _expiry(): number {
    return this._now() + 3 * this._options.interval;
  }

  private _fullState(): Record<string, ChannelPresence> {
    const state: Record<string, ChannelPresence> = {};
    for (const channel of this._options.localChannels()) state[channel] = this._options.local(channel);
    return state;
  }
}

/** The [user id, name] pairs of a node's state, when they are that (another node's JSON is checked). */
function userPairs(users: unknown): { users?: Array<[string, string]> } {
  if (!Array.isArray(users)) return {};
  const pairs = users.filter(
    (pair): pair is [string, string] => Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string',
  );
  return pairs.length > 0 ? { users: pairs.map(([user, name]) => [user, name]) } : {};
}

/** Names in `after` and not in `before` and the other way round, as multisets. */
function difference(before: readonly string[], after: readonly string[]): { joined: string[]; left: string[] } {
  const counts = new Map<string, number>();
  for (const name of before) counts.set(name, (counts.get(name) ?? 0) + 1);
  const joined: string[] = [];
  for (const name of after) {
    const n = counts.get(name) ?? 0;
    if (n > 0) counts.set(name, n - 1);
    else joined.push(name);
  }
  const left: string[] = [];
  for (const [name, n] of counts) for (let i = 0; i < n; i++) left.push(name);
  return { joined, left };
}

/**
 * The user id of the members named `name` among [user id, name] pairs, when they are all one user (a
 * change merged into a state, or a dropped node's members, is known by name only); else undefined.
 */
function userNamed(users: Array<[string, string]> | undefined, name: string): string | undefined {
  let found: string | undefined;
  for (const [user, named] of users ?? []) {
    if (named !== name) continue;
    if (found !== undefined && found !== user) return undefined;
    found = user;
  }
  return found;
}
