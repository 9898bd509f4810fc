// The classic broadcast relay, per channel: a plain WebSocket client (no subprotocol) is subscribed to
// its channel, and every message it sends is published (through the relay: stamped into the channel's
// history, and sent to wavecast.v1 members as an envelope), framed once, to every client of that channel,
// the sender included, text as text and binary as binary. Nothing else is ever sent to a plain client.
// A client over the rate limit is closed with 1008. With user tokens, a client's messages carry its user
// id (`from`, to wavecast.v1 members), one that may not publish on its channel is closed with 1008 when
// it tries, and one whose token expires is closed then with 4001.
import type { WebSocket, RawData } from '../connection/websocket.js';
import { CloseCode } from '../protocol/close.js';
import type { WebSocketServer } from '../server/websocket-server.js';
import type { ChannelWatch } from './channel.js';
import type { ExpirySweep } from './expiry.js';
import { Namespaces } from './namespaces.js';
import { CloseCodes, type Identity } from './identity.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Bucket, RateLimiter } from './rate-limit.js';

/** What the relay keeps per plain connection: plain fields, no timers. */
interface PlainClient {
  channel: string;
  bucket: Bucket;
  /** Where it connected from, for the log. */
  peer: string;
  identity: Identity;
}

export class PlainRelay {
  private readonly _clients = new Map<WebSocket, PlainClient>();
  /** The clients of verified users, per channel (presence with user ids, without a walk over every client). */
  private readonly _users = new Map<string, Set<PlainClient>>();
  /** One listener of each kind for every connection (`this` is the connection). */
  private readonly _onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly _onClose: (this: WebSocket, code: number, reason: Buffer) => void;

  constructor(
    private readonly _wss: WebSocketServer,
    private readonly _limiter: RateLimiter,
    private readonly _metrics: RelayMetrics,
    private readonly _log: Logger,
    /** The relay's publish: stamps the message into the channel's history and delivers it to all. */
    private readonly _publish: (channel: string, data: Buffer, binary: boolean, ws: WebSocket, from: string | undefined) => void,
    /** Told of clients coming and going (in a cluster). */
    private readonly _watch: ChannelWatch | null = null,
    /** Closes a client when its token expires. */
    private readonly _expiry: ExpirySweep | null = null,
    /** Who may publish where (default: as each token allows). */
    private readonly _namespaces: Namespaces = new Namespaces(),
  ) {
    const relay = this;
    this._onMessage = function (data, isBinary) {
      relay._message(this, data as Buffer, isBinary);
    };
    this._onClose = function (code, reason) {
      relay._closed(this, code, reason);
    };
  }

  /** Takes a newly opened plain connection onto `channel`. */
  accept(ws: WebSocket, channel: string, peer: string, identity: Identity): void {
    const client: PlainClient = { channel, bucket: this._limiter.bucket(), peer, identity };
    this._clients.set(ws, client);
    if (identity.user !== null) {
      let users = this._users.get(channel);
      if (users === undefined) this._users.set(channel, (users = new Set()));
      users.add(client);
    }
    if (identity.expires !== null) {
      this._expiry?.watch(ws, identity.expires, () => {
        this._log.info('client closed: its token expired', { channel, peer, user: identity.user });
        ws.close(CloseCodes.TokenExpired, 'Token expired');
      });
    }
    ws.subscribe(channel);
    ws.on('message', this._onMessage);
    ws.on('close', this._onClose);
    this._metrics.connectionsOpened++;
    // Its messages wait (held) until the channel's feed is ready; nothing to tell a plain client.
    this._watch?.joined(channel, null).catch(() => undefined);
    if (this._log.enabled('debug')) this._log.debug('client joined', { channel, peer, subscribers: this._wss.subscriberCount(channel) });
  }

  private _message(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const client = this._clients.get(ws);
    if (client === undefined || ws.readyState !== ws.OPEN) return;
    if (!this._limiter.take(client.bucket)) {
      this._metrics.rateLimitCloses++;
      this._log.warn('client closed for going over the rate limit', {
        channel: client.channel,
        peer: client.peer,
        rate: this._limiter.rate,
        burst: this._limiter.burst,
      });
      ws.close(CloseCode.PolicyViolation, this._limiter.reason());
      return;
    }
    const refusal = this._namespaces.publishRefusal(client.identity, client.channel);
    if (refusal !== null) {
      this._log.info('client closed: it may not publish on its channel', {
        channel: client.channel,
        peer: client.peer,
        user: client.identity.user,
        reason: refusal,
      });
      ws.close(CloseCode.PolicyViolation, 'You may not publish on this channel');
      return;
    }
    this._publish(client.channel, data, isBinary, ws, client.identity.user ?? undefined);
  }

  private _closed(ws: WebSocket, code: number, reason: Buffer): void {
    const client = this._clients.get(ws);
    this._clients.delete(ws);
    this._expiry?.unwatch(ws);
    const users = client === undefined ? undefined : this._users.get(client.channel);
    if (users?.delete(client!) && users.size === 0) this._users.delete(client!.channel);
    this._metrics.connectionsClosed++;
    if (client !== undefined) this._watch?.left(client.channel, null);
    if (client !== undefined && this._log.enabled('debug')) {
      this._log.debug('client left', { channel: client.channel, peer: client.peer, code, reason: reason.toString() || undefined });
    }
  }

  /** [user id, name] of this node's plain connections to a channel that are verified users. */
  localUsers(channel: string): Array<[string, string]> {
    return [...(this._users.get(channel) ?? [])].map((client) => [client.identity.user!, client.identity.name]);
  }

  /**
   * Closes a user's plain connections (server API): all of them (4003), or those on `channel` (4004,
   * removed from it); returns how many.
   */
  disconnect(user: string, channel?: string): number {
    let closed = 0;
    for (const [ws, client] of this._clients) {
      if (client.identity.user !== user || ws.readyState !== ws.OPEN) continue;
      if (channel === undefined) ws.close(CloseCodes.Disconnected, 'Disconnected by the server');
      else if (client.channel === channel) ws.close(CloseCodes.Removed, 'Removed from the channel by the server');
      else continue;
      closed++;
    }
    return closed;
  }

  /** The channel a plain connection is on (for the log of a slow client). */
  channelOf(ws: WebSocket): string | undefined {
    return this._clients.get(ws)?.channel;
  }

  /** Where a plain connection came from (for the log). */
  peerOf(ws: WebSocket): string | undefined {
    return this._clients.get(ws)?.peer;
  }
}
