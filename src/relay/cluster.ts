// A relay node in a cluster: the relay's side of a broker adapter (Redis or NATS) and of a shared history.
// The relay is the adapter's ClusterNode (its WebSocketServer has no adapter: every message the relay
// sends between nodes is its own, stamped with the channel's sequence number and epoch):
//
//   topic "\0m\0<channel>"  one message of a channel, as published (text or binary), with the adapter's
//                           stamp (cluster/wire.ts) saying its sequence number, time, epoch and, for a
//                           message a wavecast.v1 connection published, its publisher ("from"); a node
//                           listens only to channels it has clients on
//   topic "\0p"             presence (cluster-presence.ts), JSON; every node listens
//   topic "\0a"             a server API command for every node (disconnect a user, remove a user from a
//                           channel), JSON; every node listens
//
// A node's own publishes go to its clients directly (through the feed, so that they are in order with
// the others'); the adapter does not bring them back.
import type { BrokerAdapter } from '../cluster/broker-adapter.js';
import { worstState, type LinkState } from '../cluster/link.js';
import type { ClusterNode, ClusterStamp } from '../server/cluster-hook.js';
import { ClusterFeed } from './cluster-feed.js';
import { ClusterPresence, type ChannelPresence, type PresenceMessage } from './cluster-presence.js';
import type { StoredMessage } from './history.js';
import type { SharedHistory } from './history-shared.js';
import type { Logger } from './log.js';

const MESSAGE_PREFIX = '\u0000m\u0000';
const PRESENCE_TOPIC = '\u0000p';
const COMMAND_TOPIC = '\u0000a';

/** What the server API asks of every node. */
export type ClusterCommand = { op: 'disconnect'; user: string } | { op: 'remove'; user: string; channel: string };

export interface RelayClusterOptions {
  adapter: BrokerAdapter;
  store: SharedHistory;
  log: Logger;
  /** Presence heartbeat (ms): members of a node silent for 3 of them are dropped. */
  presenceInterval: number;
  /** Presence deltas of one channel sent at once per second; more are merged (default 5). */
  presenceUpdates?: number;
  /** How long a message out of turn waits before the missing ones are read from the history (ms). */
  grace?: number;
}

/** What the relay does for the cluster. */
export interface RelayClusterHooks {
  /** Delivers a message to this node's clients of its channel; returns how many it was written to. */
  deliver(message: StoredMessage): number;
  /** The history was wiped and its numbers restart (tell v1 members). */
  reset(channel: string, epoch: string): void;
  /** This node's members of a channel, and the channels it has members on. */
  local(channel: string): ChannelPresence;
  localChannels(): string[];
  /** Someone on another node joined or left (`user`: the verified user id, when known). */
  presenceChanged(channel: string, event: 'join' | 'leave', name: string, user?: string): void;
  /** Another node's server API asked every node to do this. */
  command?(command: ClusterCommand): void;
}

export class RelayCluster implements ClusterNode {
  readonly adapter: BrokerAdapter;
  readonly store: SharedHistory;
  private _feed: ClusterFeed | null = null;
  private _presence: ClusterPresence | null = null;
  private _command: ((command: ClusterCommand) => void) | null = null;
  private readonly _log: Logger;
  /** Other kinds of messages carried on this link (collaborative documents): topic prefix → handler. */
  private readonly _routes: Array<[prefix: string, deliver: (topic: string, payload: Buffer) => void]> = [];

  constructor(private readonly _options: RelayClusterOptions) {
    this.adapter = _options.adapter;
    this.store = _options.store;
    this._log = _options.log;
  }

  /** The broker's name and URL, for logs and /healthz. */
  get broker(): string {
    return `${this.store.broker} at ${this.store.url}`;
  }

  /**
   * 'connected' when both the adapter and the history store are (they share the node's one link, but each
   * is back only once it has caught up: subscriptions renewed, scripts or epoch checked); otherwise the worse.
   */
  get linkState(): LinkState {
    return worstState([this.adapter.state, this.store.state]);
  }

  get feed(): ClusterFeed {
    if (this._feed === null) throw new Error('The relay cluster is not started');
    return this._feed;
  }

  get presence(): ClusterPresence {
    if (this._presence === null) throw new Error('The relay cluster is not started');
    return this._presence;
  }

  /** Starts delivering and telling presence (the adapter and the store are connected). */
  start(hooks: RelayClusterHooks): void {
    const adapter = this.adapter;
    this._feed = new ClusterFeed({
      history: this.store,
      log: this._log,
      deliver: hooks.deliver,
      reset: hooks.reset,
      grace: this._options.grace ?? 250,
      listen: async (channel) => {
        adapter.subscribe(MESSAGE_PREFIX + channel);
        if (adapter.state === 'connected') await withTimeout(adapter.synced(), 2000);
      },
      unlisten: (channel) => adapter.unsubscribe(MESSAGE_PREFIX + channel),
    });
    this._presence = new ClusterPresence({
      nodeId: adapter.nodeId,
      interval: this._options.presenceInterval,
      ...(this._options.presenceUpdates !== undefined ? { updates: this._options.presenceUpdates } : {}),
      send: (message) => this._send(message),
      local: hooks.local,
      localChannels: hooks.localChannels,
      changed: hooks.presenceChanged,
    });
    this._command = hooks.command ?? null;
    adapter.attach(this);
    adapter.subscribe(PRESENCE_TOPIC);
    adapter.subscribe(COMMAND_TOPIC);
    adapter.on('reconnected', () => {
      this._log.info('broker link back: reading what was missed from the history, presence resynchronised', { broker: this.broker });
      this._feed?.catchUp();
      this._presence?.resync();
    });
    adapter.on('disconnected', (error: Error) => {
      this._log.warn('broker link lost: local clients are served; publishes are refused until it is back', {
        broker: this.broker,
        error: error.message,
      });
    });
    this.store.onState((state) => {
      if (state === 'connected') this._feed?.catchUp();
    });
    this._presence.start();
  }

  /** Carries a message this node stamped to the other nodes. */
  publish(message: StoredMessage): void {
    const stamp: ClusterStamp = { seq: message.seq, time: message.time, epoch: message.epoch ?? this.store.epoch };
    if (message.from !== undefined) stamp.from = message.from;
    try {
      this.adapter.publish(MESSAGE_PREFIX + message.channel, message.data, message.binary, stamp);
    } catch (error) {
      // Stored already: other nodes will read it from the history when they notice the hole.
      this._log.warn('a message could not be carried to the other nodes', { channel: message.channel, error: String(error) });
    }
  }

  /** Sends a server API command to the other nodes (this node carries it out itself). */
  command(command: ClusterCommand): void {
    this.adapter.publish(COMMAND_TOPIC, Buffer.from(JSON.stringify(command)), false);
  }

  /**
   * Hands the messages of topics starting with `prefix` to `deliver` (another kind of message that
   * shares this node's one broker link: the collaborative documents' "\0y\0<doc>").
   */
  route(prefix: string, deliver: (topic: string, payload: Buffer) => void): void {
    this._routes.push([prefix, deliver]);
  }

  /** Says goodbye to the other nodes and lets the adapter and the store go. */
  async close(): Promise<void> {
    this._presence?.stop();
    this._feed?.close();
    this.adapter.detach(this);
    await this.adapter.close();
    await this.store.close();
  }

  // ---------------------------------------------------------------- ClusterNode (called by the adapter)

  get topics(): string[] {
    return [PRESENCE_TOPIC, COMMAND_TOPIC, ...(this._feed?.channels ?? []).map((channel) => MESSAGE_PREFIX + channel)];
  }

  deliver(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): number {
    for (const [prefix, deliver] of this._routes) {
      if (!topic.startsWith(prefix)) continue;
      deliver(topic, payload);
      return 0;
    }
    if (topic === COMMAND_TOPIC) {
      const command = parseCommand(payload);
      if (command === null) this._log.warn('ignored a server API command that is not one');
      else this._command?.(command);
      return 0;
    }
    if (topic === PRESENCE_TOPIC) {
      let message: PresenceMessage;
      try {
        message = JSON.parse(payload.toString()) as PresenceMessage;
      } catch {
        this._log.warn('ignored a presence message that is not JSON');
        return 0;
      }
      this._presence?.receive(message);
      return 0;
    }
    if (!topic.startsWith(MESSAGE_PREFIX)) return 0;
    if (stamp === undefined) {
      this._log.warn('ignored a channel message from another node without a stamp', { topic: topic.slice(MESSAGE_PREFIX.length) });
      return 0;
    }
    const message: StoredMessage = {
      channel: topic.slice(MESSAGE_PREFIX.length),
      seq: stamp.seq,
      time: stamp.time,
      epoch: stamp.epoch,
      // A copy: the adapter's buffer is not ours to keep (held messages live on).
      data: Buffer.from(payload),
      binary,
    };
    if (stamp.from !== undefined) message.from = stamp.from;
    return this._feed?.offer(message, false) ?? 0;
  }

  private _send(message: PresenceMessage): void {
    try {
      this.adapter.publish(PRESENCE_TOPIC, Buffer.from(JSON.stringify(message)), false);
    } catch (error) {
      this._log.warn('a presence message could not be sent', { error: String(error) });
    }
  }
}

export async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function parseCommand(payload: Buffer): ClusterCommand | null {
  try {
    const value = JSON.parse(payload.toString()) as Record<string, unknown>;
    if (value.op === 'disconnect' && typeof value.user === 'string') return { op: 'disconnect', user: value.user };
    if (value.op === 'remove' && typeof value.user === 'string' && typeof value.channel === 'string')
      return { op: 'remove', user: value.user, channel: value.channel };
  } catch {
    // not JSON
  }
  return null;
}
