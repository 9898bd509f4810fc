// wavecast.v1 connections (the envelopes are in src/v1/protocol.ts, the protocol in docs/protocol.md). A
// connection joins channels, optionally `since` a sequence number; it is sent what it missed (or a `gap`
// saying which range is gone), then live messages, with no message lost or sent twice in between:
// while a join is being recovered, live messages for that connection are held, then the held ones are
// sent (skipping what the replay already sent), and only then is the connection subscribed to the
// channel's topic, in the same turn, so every message goes either through the held ones or the topic.
// Live messages go through the server's topics: framed once for every v1 member of a channel.
//
// A replay is paced by the peer: it is sent as the connection takes it (after each part that the socket
// did not take at once, the next waits until it has), never queued whole. Live messages held meanwhile
// are bounded (maxHeldBytes): a member past the bound is closed with 1013 and recovers with `since`.
import { randomBytes } from 'node:crypto';
import type { WebSocket, RawData } from '../connection/websocket.js';
import { CloseCode } from '../protocol/close.js';
import type { WebSocketServer } from '../server/websocket-server.js';
import type { Denial } from './access.js';
import type { ChannelWatch } from './channel.js';
import type { ExpirySweep } from './expiry.js';
import { ANONYMOUS, CloseCodes, type Identity } from './identity.js';
import { Namespaces } from './namespaces.js';
import type { HistoryStore, StoredMessage } from './history.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Bucket, RateLimiter } from './rate-limit.js';
import { UpdatePacer } from './update-pacer.js';
import {
  encode,
  errorEnvelope,
  type AuthEnvelope,
  type AuthedEnvelope,
  gapEnvelope,
  messageEnvelope,
  parseClientEnvelope,
  type MessageEnvelope,
  type JoinEnvelope,
  type JoinedEnvelope,
  type PresenceEnvelope,
  type PresenceInfo,
  type PresenceSummaryEnvelope,
  type PublishEnvelope,
  type ServerEnvelope,
} from '../v1/protocol.js';

/** The `message` envelope for a stored message (binary data as base64). */
function storedEnvelope(m: StoredMessage): MessageEnvelope {
  return messageEnvelope({
    channel: m.channel,
    seq: m.seq,
    time: m.time,
    data: m.binary ? m.data.toString('base64') : m.data.toString(),
    binary: m.binary,
    from: m.from,
  });
}

/** Room left in maxPayload for the envelope around a message's data. */
export const ENVELOPE_ROOM = 256;

/** The topic v1 members of a channel are subscribed to (control characters cannot be in channel names). */
export function v1Topic(channel: string): string {
  return `\u0000v1\u0000${channel}`;
}

/** The channel of a topic, v1 or plain. */
export function channelOfTopic(topic: string): string {
  return topic.startsWith('\u0000v1\u0000') ? topic.slice(4) : topic;
}

export interface V1HubOptions {
  wss: WebSocketServer;
  history: HistoryStore;
  /**
   * The relay's publish: stamps, keeps and delivers to every client of the channel (this hub included);
   * `from` is the publishing connection's id.
   */
  publish(channel: string, data: Buffer, binary: boolean, from: string): StoredMessage | Promise<StoredMessage>;
  limiter: RateLimiter;
  metrics: RelayMetrics;
  log: Logger;
  maxPayload: number;
  /** Most channels one connection may join. */
  maxChannels: number;
  /**
   * Most bytes of live messages held for one join while its replay is sent (default 1 MiB); past it the
   * connection is closed with 1013 (it rejoins `since` its last message).
   */
  maxHeldBytes?: number;
  /** Told of members coming and going, and knows those of other nodes (in a cluster). */
  watch?: ChannelWatch;
  /**
   * Presence envelopes a channel's members get at once per second (default 5); more joins and leaves in
   * that second are sent as one summary at its end.
   */
  presenceUpdates?: number;
  /** Closes connections whose token expired, and those that did not authenticate in time. */
  expiry?: ExpirySweep;
  /** Who may join and publish where, and which channels have presence (default: as each token allows). */
  namespaces?: Namespaces;
  /** Verifies the token of an `auth` envelope (none: the relay takes no user tokens). */
  authenticate?: (token: string) => Promise<Identity | Denial>;
  /** How long a connection that came without a token has to send its `auth` (ms; default 5000). */
  authTimeout?: number;
}

/**
 * Most names whose presence changed that a channel holds for its next summary; past it the summary is a
 * snapshot of who is there (or, on a channel of more than MAX_SNAPSHOT_NAMES, the count alone).
 */
const MAX_HELD_NAMES = 256;
/** Largest snapshot of names a summary may carry. */
const MAX_SNAPSHOT_NAMES = 1000;
/** The presence pacer's interval (ms). */
const PRESENCE_INTERVAL = 1000;
/** What a held message counts beyond its payload (its envelope). */
const HELD_OVERHEAD = 128;

/** A channel with v1 members on this node. */
interface V1Channel {
  members: Map<Session, Membership>;
  /** Presence changes so far (joins and leaves, this node's and other nodes'). */
  version: number;
  /**
   * Changes held for the next summary, those after version `from`: per name, joins less leaves (null when
   * more than MAX_HELD_NAMES names changed: the summary is then a snapshot); `changes` counts them all.
   */
  held: { from: number; net: Map<string, number> | null; changes: number } | null;
}

interface Membership {
  name: string;
  /** The newest sequence number sent to this connection on the channel. */
  lastSeq: number;
  /** Live messages held back while the join is being recovered; null once subscribed. */
  pending: StoredMessage[] | null;
  /** Bytes held in `pending` (payloads and HELD_OVERHEAD each), not yet sent. */
  pendingBytes: number;
  /** The channel's presence version its `joined` envelope showed (a summary tells it only what came after). */
  seen: number;
}

interface Session {
  ws: WebSocket;
  /**
   * A random id the relay gives the connection, put as `from` on the messages it publishes and told to
   * it in `joined`: a client knows its own messages by it, and no other client can make the relay put it
   * on theirs.
   */
  id: string;
  bucket: Bucket;
  peer: string;
  channels: Map<string, Membership>;
  /** Resolves once the connection has taken what was sent to it (false: it closed first); null: none asked. */
  draining: Promise<boolean> | null;
  /** Who it is: ANONYMOUS on an open relay; null until a connection that came without a token sends `auth`. */
  identity: Identity | null;
}

export class V1Hub {
  /** channel → its members and presence. */
  private readonly _channels = new Map<string, V1Channel>();
  private readonly _sessions = new Map<WebSocket, Session>();
  private readonly _presencePacer: UpdatePacer<string>;
  private readonly _namespaces: Namespaces;

  constructor(private readonly _options: V1HubOptions) {
    this._namespaces = _options.namespaces ?? new Namespaces();
    this._presencePacer = new UpdatePacer({
      burst: _options.presenceUpdates ?? 5,
      interval: PRESENCE_INTERVAL,
      flush: (channel) => this._summarise(channel),
    });
    // Under the 'drop' backpressure policy a slow client is skipped: a wavecast.v1 client would then miss
    // messages with no gap to tell it. It is closed instead (after what is queued for it), and recovers
    // what it missed from history when it rejoins `since` its last message.
    _options.wss.on('drop', (ws: WebSocket) => {
      const session = this._sessions.get(ws);
      if (session === undefined || ws.readyState !== ws.OPEN) return;
      _options.log.warn('wavecast.v1 client too slow: closed so that it recovers from history', { peer: session.peer });
      ws.close(CloseCode.TryAgainLater, 'Too slow for its channels: reconnect and rejoin since the last message');
    });
  }

  /** Takes a newly opened wavecast.v1 connection. */
  accept(ws: WebSocket, peer: string, identity: Identity | null = ANONYMOUS): void {
    const session: Session = {
      ws,
      id: randomBytes(12).toString('base64url'),
      bucket: this._options.limiter.bucket(),
      peer,
      channels: new Map(),
      draining: null,
      identity,
    };
    this._sessions.set(ws, session);
    if (identity === null) {
      this._options.expiry?.watch(ws, Date.now() + (this._options.authTimeout ?? 5000), () => {
        this._options.log.info('wavecast.v1 client closed: it sent no valid token in time', { peer });
        ws.close(CloseCodes.AuthTimeout, 'No valid auth envelope in time');
      });
    } else {
      this._watchExpiry(session, identity);
    }
    this._options.metrics.connectionsOpened++;
    ws.on('message', (data: RawData, isBinary: boolean) => this._message(session, data as Buffer, isBinary));
    ws.on('close', () => this._closed(session));
    if (this._options.log.enabled('debug')) this._options.log.debug('wavecast.v1 client connected', { peer });
  }

  /**
   * Delivers a message the relay has stamped to the v1 members of its channel: through the topic to
   * those subscribed, into the buffer of those being recovered. Returns how many it was written to.
   */
  deliver(message: StoredMessage): number {
    const members = this._channels.get(message.channel)?.members;
    if (members !== undefined) {
      for (const [session, membership] of members) {
        // (A connection closing will not be sent them.)
        if (membership.pending === null || session.ws.readyState !== session.ws.OPEN) continue;
        membership.pending.push(message);
        membership.pendingBytes += message.data.length + HELD_OVERHEAD;
        if (membership.pendingBytes > (this._options.maxHeldBytes ?? 1 << 20)) {
          this._options.log.warn('wavecast.v1 client too slow to recover: closed so that it rejoins since its last message', {
            peer: session.peer,
            channel: message.channel,
          });
          membership.pending.length = 0;
          membership.pendingBytes = 0;
          session.ws.close(CloseCode.TryAgainLater, 'Too slow to take the missed messages: reconnect and rejoin since the last message');
        }
      }
    }
    const topic = v1Topic(message.channel);
    if (this._options.wss.subscriberCount(topic) === 0) return 0;
    return this._options.wss.publish(topic, encode(storedEnvelope(message)));
  }

  /** How many v1 connections have joined a channel. */
  count(channel: string): number {
    return this._channels.get(channel)?.members.size ?? 0;
  }

  /** Who is on a channel: this node's members and, in a cluster, those of the other nodes. */
  presence(channel: string): PresenceInfo {
    const names = this.localNames(channel);
    const remote = this._options.watch?.remote(channel).names;
    if (remote !== undefined && remote.length > 0) names.push(...remote);
    names.sort();
    return { count: names.length, names };
  }

  /** What a joined envelope shows of a channel's presence: no names where its namespace has presence off. */
  private _presenceShown(channel: string): PresenceInfo {
    const presence = this.presence(channel);
    return this._namespaces.of(channel).presence ? presence : { count: presence.count, names: [] };
  }

  /** The names of this node's members of a channel. */
  localNames(channel: string): string[] {
    const members = this._channels.get(channel)?.members;
    return members === undefined ? [] : [...members.values()].map((m) => m.name);
  }

  /** [user id, name] of this node's members of a channel that are verified users. */
  localUsers(channel: string): Array<[string, string]> {
    const members = this._channels.get(channel)?.members;
    const users: Array<[string, string]> = [];
    if (members === undefined) return users;
    for (const [session, membership] of members) if (session.identity?.user != null) users.push([session.identity.user, membership.name]);
    return users;
  }

  /** The channels this node's v1 connections have joined. */
  channels(): string[] {
    return [...this._channels.keys()];
  }

  /** Closes every connection of a user (server API); returns how many. */
  disconnect(user: string): number {
    let closed = 0;
    for (const session of this._sessions.values()) {
      if (session.identity?.user !== user || session.ws.readyState !== session.ws.OPEN) continue;
      session.ws.close(CloseCodes.Disconnected, 'Disconnected by the server');
      closed++;
    }
    return closed;
  }

  /** Takes a user's connections off a channel (server API), each told with `left` (reason "removed"); returns how many. */
  remove(user: string, channel: string): number {
    const members = this._channels.get(channel)?.members;
    if (members === undefined) return 0;
    let removed = 0;
    for (const session of [...members.keys()]) {
      if (session.identity?.user !== user) continue;
      this._leave(session, channel);
      this._send(session, { type: 'left', channel, reason: 'removed' });
      removed++;
    }
    return removed;
  }

  /** Someone on another node joined or left (`user`: the verified user id): tells this node's members of the channel. */
  announce(channel: string, event: 'join' | 'leave', name: string, user?: string): void {
    this._announce(channel, null, event, name, user);
  }

  /**
   * The shared history was wiped and its numbers start again: members are told with a `reset` gap, as
   * if they had rejoined with numbers of another epoch.
   */
  reset(channel: string, epoch: string): void {
    const members = this._channels.get(channel)?.members;
    if (members === undefined) return;
    for (const [session, membership] of members) {
      this._send(session, gapEnvelope(channel, membership.lastSeq + 1, 0, 'reset', epoch));
      membership.lastSeq = 0;
    }
  }

  /** The channels a v1 connection has joined and its peer (for the log). */
  describe(ws: WebSocket): { channel: string | undefined; peer: string | undefined } | undefined {
    const session = this._sessions.get(ws);
    if (session === undefined) return undefined;
    return { channel: [...session.channels.keys()].join(',') || undefined, peer: session.peer };
  }

  private _send(session: Session, envelope: ServerEnvelope): void {
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(encode(envelope));
  }

  private _message(session: Session, data: Buffer, isBinary: boolean): void {
    const { ws } = session;
    if (ws.readyState !== ws.OPEN) return;
    const { limiter, metrics, log } = this._options;
    if (!limiter.take(session.bucket)) {
      metrics.rateLimitCloses++;
      log.warn('client closed for going over the rate limit', { peer: session.peer, rate: limiter.rate, burst: limiter.burst });
      ws.close(CloseCode.PolicyViolation, limiter.reason());
      return;
    }
    if (isBinary) {
      return this._send(session, errorEnvelope('binary_frame', 'wavecast.v1 envelopes are JSON in text messages, not binary messages'));
    }
    const parsed = parseClientEnvelope(data.toString(), this._options.maxPayload - ENVELOPE_ROOM);
    if (!parsed.ok) return this._send(session, parsed.error);
    const envelope = parsed.envelope;
    if (session.identity === null && envelope.type !== 'auth' && envelope.type !== 'ping') {
      const channel = envelope.type === 'join' || envelope.type === 'leave' || envelope.type === 'publish' ? envelope.channel : undefined;
      return this._send(
        session,
        errorEnvelope(
          'unauthorized',
          'Send an "auth" envelope with your token first',
          envelope.type === 'publish' ? envelope.id : undefined,
          channel,
        ),
      );
    }
    switch (envelope.type) {
      case 'auth':
        return void this._auth(session, envelope);
      case 'ping': {
        const pong: ServerEnvelope =
          envelope.id === undefined ? { type: 'pong', time: Date.now() } : { type: 'pong', id: envelope.id, time: Date.now() };
        return this._send(session, pong);
      }
      case 'join':
        return this._join(session, envelope);
      case 'leave': {
        if (!session.channels.has(envelope.channel)) {
          return this._send(
            session,
            errorEnvelope('not_joined', `Not joined to ${JSON.stringify(envelope.channel)}`, undefined, envelope.channel),
          );
        }
        this._leave(session, envelope.channel);
        return this._send(session, { type: 'left', channel: envelope.channel });
      }
      case 'publish':
        return this._publish(session, envelope);
    }
  }

  /** Closes the connection at its token's exp (unless a fresh `auth` moves the deadline). */
  private _watchExpiry(session: Session, identity: Identity): void {
    const expiry = this._options.expiry;
    if (expiry === undefined) return;
    if (identity.expires === null) return expiry.unwatch(session.ws);
    expiry.watch(session.ws, identity.expires, () => {
      this._options.log.info('wavecast.v1 client closed: its token expired', { peer: session.peer, user: identity.user });
      session.ws.close(CloseCodes.TokenExpired, 'Token expired: send a fresh auth before exp');
    });
  }

  /** A token: the first (the connection came without one) or a fresh one for the same user before exp. */
  private async _auth(session: Session, envelope: AuthEnvelope): Promise<void> {
    const authenticate = this._options.authenticate;
    if (authenticate === undefined)
      return this._send(session, errorEnvelope('unauthorized', 'This relay takes no user tokens', envelope.id));
    const verified = await authenticate(envelope.token);
    if (session.ws.readyState !== session.ws.OPEN) return;
    if ('status' in verified) return this._send(session, errorEnvelope('unauthorized', verified.body, envelope.id));
    const current = session.identity;
    if (current !== null && current.user !== verified.user) {
      return this._send(
        session,
        errorEnvelope(
          'forbidden',
          `A fresh token must name the same user (${JSON.stringify(current.user)}); connect again to change users`,
          envelope.id,
        ),
      );
    }
    session.identity = verified;
    this._watchExpiry(session, verified);
    const authed: AuthedEnvelope = { type: 'authed', user: verified.user ?? '', name: verified.name };
    if (verified.expires !== null) authed.exp = Math.floor(verified.expires / 1000);
    if (envelope.id !== undefined) authed.id = envelope.id;
    this._send(session, authed);
    // A fresh token may allow less: the channels it no longer allows are left, each told with `forbidden`.
    for (const channel of [...session.channels.keys()]) {
      const refusal = this._namespaces.subscribeRefusal(verified, channel);
      if (refusal === null) continue;
      this._leave(session, channel);
      this._send(session, errorEnvelope('forbidden', `Left ${JSON.stringify(channel)}: ${refusal}`, undefined, channel));
    }
  }

  private _publish(session: Session, envelope: PublishEnvelope): void {
    if (!session.channels.has(envelope.channel)) {
      return this._send(
        session,
        errorEnvelope('not_joined', `Join ${JSON.stringify(envelope.channel)} before publishing to it`, envelope.id, envelope.channel),
      );
    }
    const identity = session.identity!;
    const refusal = this._namespaces.publishRefusal(identity, envelope.channel);
    if (refusal !== null) return this._send(session, errorEnvelope('forbidden', refusal, envelope.id, envelope.channel));
    const stored = this._options.publish(envelope.channel, Buffer.from(envelope.data), false, identity.user ?? session.id);
    if (envelope.id === undefined) {
      if (stored instanceof Promise) {
        stored.catch(() =>
          this._send(
            session,
            errorEnvelope(
              'unavailable',
              'The relay could not store the message in the channel history (its broker is unreachable); it was not published: send it again later',
              undefined,
              envelope.channel,
            ),
          ),
        );
      }
      return;
    }
    const id = envelope.id;
    void Promise.resolve(stored).then(
      (message) => this._send(session, { type: 'ack', id, channel: message.channel, seq: message.seq }),
      () =>
        this._send(
          session,
          errorEnvelope(
            'unavailable',
            'The relay could not store the message in the channel history (its broker is unreachable); it was not published: send it again later',
            id,
            envelope.channel,
          ),
        ),
    );
  }

  private _join(session: Session, envelope: JoinEnvelope): void {
    const { channel } = envelope;
    if (session.channels.has(channel)) {
      return this._send(
        session,
        errorEnvelope('already_joined', `Already joined to ${JSON.stringify(channel)}; leave it first to join again`, undefined, channel),
      );
    }
    if (session.channels.size >= this._options.maxChannels) {
      return this._send(
        session,
        errorEnvelope('too_many_channels', `A connection may join at most ${this._options.maxChannels} channels`, undefined, channel),
      );
    }
    const identity = session.identity!;
    const refusal = this._namespaces.subscribeRefusal(identity, channel);
    if (refusal !== null) return this._send(session, errorEnvelope('forbidden', refusal, undefined, channel));
    // A verified user is known by the name its token gives, whatever name the join asks for.
    const membership: Membership = {
      name: identity.user !== null ? identity.name : (envelope.name ?? ''),
      lastSeq: 0,
      pending: [],
      pendingBytes: 0,
      seen: 0,
    };
    session.channels.set(channel, membership);
    let state = this._channels.get(channel);
    if (state === undefined) {
      state = { members: new Map(), version: 0, held: null };
      this._channels.set(channel, state);
    }
    state.members.set(session, membership);
    const user = session.identity?.user ?? undefined;
    this._announce(channel, session, 'join', membership.name, user);
    const ready = this._options.watch?.joined(channel, membership.name, user);
    this._recover(session, membership, envelope, ready).catch((error: unknown) => {
      this._options.log.error('history read failed', { channel, error: String(error) });
      if (session.channels.get(channel) === membership) this._leave(session, channel);
      this._send(
        session,
        errorEnvelope('unavailable', `The relay could not read the history of ${JSON.stringify(channel)}; try again`, undefined, channel),
      );
    });
  }

  /**
   * Sends what a join missed, then the held live messages, then subscribes (see the top), each part as
   * the connection takes it.
   */
  private async _recover(
    session: Session,
    membership: Membership,
    envelope: JoinEnvelope,
    ready: Promise<void> | undefined,
  ): Promise<void> {
    const { channel } = envelope;
    const history = this._options.history;
    const still = () => session.channels.get(channel) === membership && session.ws.readyState === session.ws.OPEN;
    /** After a send: if the socket did not take it all, waits until it has; false when the join is over. */
    const paced = async () => session.ws.bufferedAmount === 0 || ((await this._drained(session)) && still());
    let recovered = 0;
    // In a cluster: once this node hears the channel's messages from every node, in order.
    if (ready !== undefined) await ready;
    // What was sent to this connection before (another join's replay) is taken first: a read is held only
    // by a replay that is being sent.
    if (!still() || !(await paced())) return;
    if (envelope.since === undefined) {
      membership.lastSeq = await history.latest(channel);
      if (!still()) return;
    } else {
      let otherEpoch = envelope.epoch !== undefined && envelope.epoch !== history.epoch;
      let read = await history.read(channel, otherEpoch ? 0 : envelope.since);
      if (!still()) return;
      if (!otherEpoch && envelope.epoch !== undefined && envelope.epoch !== history.epoch) {
        // A shared store found out during the read that its data was wiped: a new epoch.
        otherEpoch = true;
        read = await history.read(channel, 0);
        if (!still()) return;
      }
      const reset = otherEpoch || envelope.since > read.latest;
      if (reset) {
        // The client's numbers come from another run of the sequence: everything kept now is new to it.
        this._send(session, gapEnvelope(channel, envelope.since + 1, 0, 'reset', history.epoch));
        if (!otherEpoch) {
          read = await history.read(channel, 0);
          if (!still()) return;
        }
      }
      if (read.lost !== undefined) this._send(session, gapEnvelope(channel, read.lost.from, read.lost.to, 'expired', history.epoch));
      membership.lastSeq = Math.max(reset ? 0 : envelope.since, read.lost?.to ?? 0);
      for (const message of read.messages) {
        if (message.seq <= membership.lastSeq) continue;
        this._send(session, storedEnvelope(message));
        membership.lastSeq = message.seq;
        recovered++;
        if (!(await paced())) return;
      }
    }
    // The live messages held meanwhile, as the connection takes them; more may come while it does. Once
    // the last is sent without a wait, the connection is subscribed in the same turn.
    let at = 0;
    for (;;) {
      const pending = membership.pending!;
      let waited = false;
      while (at < pending.length) {
        const message = pending[at++]!;
        membership.pendingBytes -= message.data.length + HELD_OVERHEAD;
        if (message.seq <= membership.lastSeq) continue;
        this._send(session, storedEnvelope(message));
        membership.lastSeq = message.seq;
        if (session.ws.bufferedAmount > 0) {
          // The sent ones go before the wait.
          pending.splice(0, at);
          at = 0;
          if (!(await paced())) return;
          waited = true;
          break;
        }
      }
      if (!waited) break;
    }
    membership.pending = null;
    membership.pendingBytes = 0;
    session.ws.subscribe(v1Topic(channel));
    membership.seen = this._channels.get(channel)?.version ?? 0;
    const joined: JoinedEnvelope = {
      type: 'joined',
      channel,
      epoch: history.epoch,
      seq: membership.lastSeq,
      recovered,
      presence: this._presenceShown(channel),
      you: session.identity?.user ?? session.id,
    };
    // A verified user's name is the relay's to give: the page shows it instead of the one it typed.
    if (session.identity?.user != null) joined.name = session.identity.name;
    this._send(session, joined);
  }

  /** Resolves once the connection has taken everything sent to it (false if it closed first); one wait per connection. */
  private _drained(session: Session): Promise<boolean> {
    session.draining ??= new Promise<boolean>((resolve) => {
      session.ws._onceDrained((error?: Error) => {
        session.draining = null;
        resolve(error === undefined);
      });
    });
    return session.draining;
  }

  private _leave(session: Session, channel: string): void {
    const membership = session.channels.get(channel);
    if (membership === undefined) return;
    session.channels.delete(channel);
    session.ws.unsubscribe(v1Topic(channel));
    const state = this._channels.get(channel);
    state?.members.delete(session);
    if (state !== undefined && state.members.size === 0) {
      this._channels.delete(channel);
      this._presencePacer.forget(channel);
    }
    const user = session.identity?.user ?? undefined;
    this._options.watch?.left(channel, membership.name, user);
    this._announce(channel, session, 'leave', membership.name, user);
  }

  /**
   * Tells the other members of a channel that someone joined or left: at once while the channel's
   * presence pacer allows it, otherwise held for the summary it sends at the end of the second.
   */
  private _announce(channel: string, except: Session | null, event: 'join' | 'leave', name: string, user?: string): void {
    const state = this._channels.get(channel);
    if (state === undefined) return;
    state.version++;
    // A namespace without presence, or without join and leave envelopes, is told nothing.
    const namespace = this._namespaces.of(channel);
    if (!namespace.presence || !namespace.joinLeave) return;
    if (this._presencePacer.offer(channel)) {
      const envelope: PresenceEnvelope = { type: 'presence', channel, event, name, count: this._count(channel, state) };
      if (user !== undefined) envelope.user = user;
      const text = encode(envelope);
      for (const session of state.members.keys()) {
        if (session !== except && session.ws.readyState === session.ws.OPEN) session.ws.send(text);
      }
      return;
    }
    const held = (state.held ??= { from: state.version - 1, net: new Map(), changes: 0 });
    held.changes++;
    if (held.net !== null) {
      const n = (held.net.get(name) ?? 0) + (event === 'join' ? 1 : -1);
      if (n === 0) held.net.delete(name);
      else held.net.set(name, n);
      if (held.net.size > MAX_HELD_NAMES) held.net = null;
    }
    // The one who joined knows of itself: its joined envelope (sent later) shows the channel from then on.
    if (except !== null && event === 'join') {
      const membership = state.members.get(except);
      if (membership !== undefined) membership.seen = state.version;
    }
  }

  /**
   * Sends a channel's held presence changes as one envelope per member: to those who knew the channel
   * before the changes, the names that joined and left in all; to those who joined meanwhile (their
   * joined envelope showed some of the changes already), and to all when too many names changed, a
   * snapshot of who is there.
   */
  private _summarise(channel: string): void {
    const state = this._channels.get(channel);
    const held = state?.held;
    if (state === undefined || held === null || held === undefined) return;
    state.held = null;
    const count = this._count(channel, state);
    let delta: string | null = null;
    let snapshot: string | null = null;
    for (const [session, membership] of state.members) {
      // Still being recovered: its joined envelope will show the channel as it is then.
      if (membership.pending !== null || session.ws.readyState !== session.ws.OPEN) continue;
      if (held.net !== null && membership.seen <= held.from) {
        delta ??= encode(presenceDelta(channel, count, held.net));
        session.ws.send(delta);
      } else {
        snapshot ??= encode(this._snapshot(channel, count, held.changes));
        session.ws.send(snapshot);
      }
    }
  }

  /** Who is on a channel now, as a summary (the count alone on a channel too large to list). */
  private _snapshot(channel: string, count: number, changes: number): PresenceSummaryEnvelope {
    if (count > MAX_SNAPSHOT_NAMES) return { type: 'presence', channel, count, joined: [], left: [], more: changes };
    return { type: 'presence', channel, count, names: this.presence(channel).names };
  }

  /** Members of a channel on every node. */
  private _count(channel: string, state: V1Channel): number {
    return state.members.size + (this._options.watch?.remote(channel).names.length ?? 0);
  }

  /** Stops the presence timer (the relay is closing). */
  stop(): void {
    this._presencePacer.stop();
  }

  private _closed(session: Session): void {
    this._sessions.delete(session.ws);
    this._options.expiry?.unwatch(session.ws);
    this._options.metrics.connectionsClosed++;
    for (const channel of [...session.channels.keys()]) this._leave(session, channel);
  }
}

/** A summary of presence changes from the joins less leaves per name (names sorted). */
export function presenceDelta(channel: string, count: number, net: ReadonlyMap<string, number>): PresenceSummaryEnvelope {
  const joined: string[] = [];
  const left: string[] = [];
  for (const [name, n] of net) {
    const list = n > 0 ? joined : left;
    for (let i = 0; i < Math.abs(n); i++) list.push(name);
  }
  return { type: 'presence', channel, count, joined: joined.sort(), left: left.sort() };
}
