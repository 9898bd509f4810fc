// The relay behind `wavecast serve`: one HTTP (or HTTPS) server carrying the WebSocket channels and the
// HTTP routes, with the safety settings of a server facing the public: a small maxPayload, a token, an
// origin list, a rate limit, slow clients skipped rather than buffered without end, heartbeats, every
// connection counted (per address too) and timed (TLS handshakes, request heads, idle keep-alive and
// idle WebSockets), and a graceful shutdown that delivers what was queued within one deadline.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from '../connection/websocket.js';
import { addressKey } from '../server/address-limit.js';
import { UpgradeRejection } from '../server/admission.js';
import type { BackpressurePolicy } from '../server/backpressure.js';
import { WebSocketServer } from '../server/websocket-server.js';
import { Access, isDenial, ownOrigins } from './access.js';
import { ExpirySweep } from './expiry.js';
import type { Identity } from './identity.js';
import { JwtVerifier, type JwtSettings } from './jwt.js';
import { channelOfTarget, type ChannelWatch } from './channel.js';
import type { ClusterCommand, RelayCluster } from './cluster.js';
import { change } from './cluster-presence.js';
import { createServerApi } from './server-api.js';
import type { Namespaces } from './namespaces.js';
import { ConnectProxy, type ConnectProxySettings } from './connect-proxy.js';
import { ConnectionGate, descriptorLimit, REFUSING, RESERVED_DESCRIPTORS } from './connection-gate.js';
import { createRequestHandler, oneAtATime } from './http-routes.js';
import type { Logger } from './log.js';
import { RelayMetrics, renderMetrics, type BrokerMetrics } from './metrics.js';
import { loadPageAssets, type PageAssets } from './page-assets.js';
import { MemoryHistory, sameBounds, type HistoryStore, type StoredMessage } from './history.js';
import { PlainRelay } from './plain-relay.js';
import { V1_PROTOCOL } from '../v1/protocol.js';
import { channelOfTopic, V1Hub } from './v1-session.js';
import { AddressRateLimiter, LoopClock, RateLimiter, type RateLimit } from './rate-limit.js';
import { startDocs } from './docs/load.js';
import { pathOf, type DocsEndpoint, type DocsSettings } from './docs/settings.js';

export interface RelayOptions {
  port: number;
  host: string;
  /** PEM certificate and key: serve HTTPS and wss:// instead of HTTP and ws://. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Largest message, over WebSocket or HTTP publish, in bytes. */
  maxPayload: number;
  /** Bearer token required on upgrades, publishes, presence and metrics (none: open). */
  token?: string | undefined;
  /** Origins of pages allowed besides the relay's own (empty: any). */
  origins: readonly string[];
  /**
   * JWT connection tokens (--jwt-secret, --jwt-key): every connection is then a verified user with the
   * permissions its token gives (see docs/auth.md). Needs the jose package.
   */
  jwt?: JwtSettings | undefined;
  /** The connect proxy (--auth-url, --auth-timeout): the backend says who each connection is. */
  authUrl?: ConnectProxySettings | undefined;
  /** Channel namespaces (--config FILE, see namespaces.ts). */
  namespaces?: Namespaces | undefined;
  /** The backends' key (--api-key): turns on the server API under /api/, and is then what opens /metrics. */
  apiKey?: string | undefined;
  rateLimit: RateLimit;
  /** POST /channels/<name>/messages per client address (default RELAY_DEFAULTS.httpRateLimit; rate 0: off). */
  httpRateLimit?: RateLimit;
  /** Most bytes queued for one client before messages for it are dropped (or it is closed). */
  maxBackpressure: number;
  backpressurePolicy: BackpressurePolicy;
  /**
   * Most open connections of any kind: WebSocket, HTTP, a TLS handshake or a request head under way
   * (0: as many as the file descriptor limit allows, which also caps any larger value).
   */
  maxConnections: number;
  /** Most connections from one address, an IPv6 /64 counting as one (0: no limit; default 256). */
  maxConnectionsPerIp?: number;
  /** A TLS handshake, then a request head, then an upgrade's decision, must each be done within it (ms; default 5000). */
  handshakeTimeout?: number;
  /** A whole HTTP request, body included, must have arrived within it (ms; default 30000). */
  requestTimeout?: number;
  /** An HTTP connection idle between requests is closed after it (ms; default 5000). */
  keepAliveTimeout?: number;
  /** A WebSocket on which no message has gone either way for this long is closed (ms; 0: never; default 3600000). */
  idleTimeout?: number;
  /**
   * The URLs the relay is reached at besides the address it listens on (behind a proxy, a DNS name):
   * with an origin list, pages of their origins are the relay's own and always allowed.
   */
  publicUrls?: readonly string[];
  /** Ping connections quiet for this long and drop those that stay silent as long again (ms; 0: off). */
  heartbeat: number;
  /** How many channels get a subscriber count in /metrics (the busiest). */
  metricsChannels: number;
  log: Logger;
  /**
   * History kept per channel (ignored when `historyStore` is given; a namespace may set its own `limit`
   * and `ttl`): `maxTotalBytes` bounds all channels together, overheads counted; `maxChannels` the channels with a record (default RELAY_DEFAULTS.maxChannels).
   */
  history: { limit: number; ttl: number; maxBytes: number; maxTotalBytes?: number; maxChannels?: number };
  /** Most channels one wavecast.v1 connection may join (default RELAY_DEFAULTS.maxChannelsPerConnection). */
  maxChannelsPerConnection?: number;
  /**
   * Presence envelopes a channel's members get at once per second (default RELAY_DEFAULTS.presenceUpdates);
   * more joins and leaves in that second go as one summary at its end.
   */
  presenceUpdates?: number;
  /** Another history store (a shared one); default: in memory, bounded by `history`. */
  historyStore?: HistoryStore;
  /**
   * A node of a cluster: publishes go between nodes through its broker adapter, history and sequence
   * numbers live in its shared store (then `historyStore` is ignored), presence counts every node.
   * The relay closes it when it closes.
   */
  cluster?: RelayCluster;
  /** The chat page (default: the built page beside this module). */
  page?: PageAssets;
  /** Collaborative documents on ws://host/docs/<name> (none: off). They load Yjs when they start. */
  docs?: DocsSettings;
}

/** What the optional RelayOptions are when not given (the defaults of `wavecast serve`). */
export const RELAY_DEFAULTS = {
  maxConnectionsPerIp: 256,
  handshakeTimeout: 5_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  idleTimeout: 3_600_000,
  /** HTTP publishes per client address (`--http-rate-limit`, `--http-rate-burst`). */
  httpRateLimit: { rate: 50, burst: 100 },
  /** Channels the relay keeps numbers and history for (`--max-channels`). */
  maxChannels: 100_000,
  /** Channels one wavecast.v1 connection may join (`--max-channels-per-connection`). */
  maxChannelsPerConnection: 64,
  /** Presence updates per channel per second sent one by one (`--presence-updates`). */
  presenceUpdates: 5,
} as const;

/** A message the relay stamped and how many connections it was written to. */
export interface Published {
  message: StoredMessage;
  delivered: number;
}

/** What the authenticate hook hands to the connection listener. */
interface Admitted {
  channel: string;
  /** Who it is (null: a wavecast.v1 connection that is to send its token in an `auth` envelope). */
  identity: Identity | null;
}

export class Relay {
  readonly metrics = new RelayMetrics();
  private readonly _server: HttpServer;
  private readonly _wss: WebSocketServer;
  private readonly _plain: PlainRelay;
  private readonly _v1: V1Hub;
  readonly history: HistoryStore;
  /** Appends to a store that answers with promises are delivered in the order they were started. */
  private _appending: Promise<unknown> = Promise.resolve();
  private readonly _secure: boolean;
  private _closing: Promise<void> | null = null;
  private readonly _cluster: RelayCluster | null;
  /** Plain connections per channel on this node (for presence in a cluster). */
  private readonly _plainCounts = new Map<string, number>();
  /** Measures the event loop's stalls, so that rate limits count wall-clock time. */
  private readonly _clock = new LoopClock();
  /** Frees what idle channels hold in the history (its ttl applied without waiting for a touch). */
  private _sweep: NodeJS.Timeout | null = null;
  private readonly _gate: ConnectionGate;
  private readonly _access: Access;
  /** Closes connections whose token expired, and wavecast.v1 ones that did not authenticate in time. */
  private readonly _expiry = new ExpirySweep();
  /** The connection bound in force: --max-connections, or less when the file descriptors are fewer. */
  readonly maxConnections: number;

  private constructor(
    private readonly _options: RelayOptions,
    private readonly _docs: DocsEndpoint | null = null,
    jwt: JwtVerifier | null = null,
  ) {
    const { log } = _options;
    this._cluster = _options.cluster ?? null;
    const access = (this._access = new Access({
      token: _options.token,
      origins: _options.origins,
      jwt: jwt ?? undefined,
      proxy: proxyOf(_options),
      apiKey: _options.apiKey,
      namespaces: _options.namespaces,
    }));
    const page = _options.page ?? loadPageAssets();
    if (!page.built) log.warn('the chat page has not been built (run npm run build); GET / explains this');
    this._secure = _options.tls !== undefined;
    // Each channel's bounds: its namespace's size and age, else the flags'.
    const bounds = _options.namespaces?.historyBounds(_options.history) ?? sameBounds(_options.history);
    this.history =
      this._cluster?.store ??
      _options.historyStore ??
      new MemoryHistory({ maxChannels: RELAY_DEFAULTS.maxChannels, ..._options.history, perChannel: bounds });
    this._startSweep(bounds.shortestTtl);
    const watch = this._cluster === null ? null : this._watch(this._cluster);
    this._clock.start();
    const postLimiter = new AddressRateLimiter(new RateLimiter(_options.httpRateLimit ?? RELAY_DEFAULTS.httpRateLimit, this._clock));
    const routes = createRequestHandler({
      access,
      maxPayload: _options.maxPayload,
      page,
      log,
      publish: (channel, data, binary, from) => this.publish(channel, data, binary, 'http', from),
      admitPublish: (request) => {
        const wait = postLimiter.take(addressKey(request.socket.remoteAddress));
        if (wait > 0) this.metrics.httpRateLimited++;
        return wait;
      },
      readHistory: (channel, since) => this.history.read(channel, since),
      epoch: () => this.history.epoch,
      subscriberCount: (channel) => this.online(channel),
      metrics: () => this.metricsText(),
      closing: () => this._closing !== null,
      ...(this._cluster !== null ? { broker: () => ({ name: this._cluster!.broker, state: this._cluster!.linkState }) } : {}),
      ...(access.apiKeySet
        ? {
            api: createServerApi({
              access,
              log,
              maxPayload: _options.maxPayload,
              publish: (channel, data, binary) => this.publish(channel, data, binary, 'http'),
              readHistory: (channel, since) => this.history.read(channel, since),
              epoch: () => this.history.epoch,
              presence: (channel) => this.presenceOf(channel),
              disconnect: (user) => this.command({ op: 'disconnect', user }),
              remove: (user, channel) => this.command({ op: 'remove', user, channel }),
              channels: () => this.channels(),
              info: () => this.info(),
            }),
          }
        : {}),
    });
    const docs = _docs;
    // A connection's requests one at a time, each once the answers before it are taken (documents' too).
    const handler = oneAtATime(
      docs === null
        ? routes
        : (request, response) =>
            docs.claimsRequest(pathOf(request.url)) ? docs.handleRequest(request, response) : routes(request, response),
      log,
    );
    const handshakeTimeout = _options.handshakeTimeout ?? RELAY_DEFAULTS.handshakeTimeout;
    const timeouts = {
      // From the connection's start (after its TLS handshake) to the end of its request head: a socket
      // that says nothing, or trickles its head, is answered 408 and closed.
      headersTimeout: handshakeTimeout,
      requestTimeout: _options.requestTimeout ?? RELAY_DEFAULTS.requestTimeout,
      keepAliveTimeout: _options.keepAliveTimeout ?? RELAY_DEFAULTS.keepAliveTimeout,
      // How often node:http looks for requests past those timeouts (its default, 30 s, would let a head
      // live 35 s): a quarter of the head's timeout, within 50 ms to 1 s.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(handshakeTimeout / 4))),
    };
    this.maxConnections = connectionLimit(_options.maxConnections, log);
    const maxPerAddress = _options.maxConnectionsPerIp ?? RELAY_DEFAULTS.maxConnectionsPerIp;
    this._gate = new ConnectionGate(
      { maxConnections: this.maxConnections, maxPerAddress: maxPerAddress > 0 ? maxPerAddress : Infinity },
      this._secure,
      log,
    );
    // A refused connection is answered by the gate; an admitted one is busy while its request is served.
    const gated = (request: IncomingMessage, response: ServerResponse) => {
      if (!this._gate.request(request, response)) handler(request, response);
    };
    this._server = _options.tls
      ? createHttpsServer({ cert: _options.tls.cert, key: _options.tls.key, handshakeTimeout, ...timeouts }, gated)
      : createHttpServer(timeouts, gated);
    this._server.keepAliveTimeout = timeouts.keepAliveTimeout;
    this._server.on('connection', (socket: Socket) => this._gate.accepted(socket));
    if (_options.tls) this._server.on('secureConnection', (socket: Socket) => this._gate.secured(socket));
    // Expect: 100-continue: the publish route answers 100 only once the token and size are acceptable.
    this._server.on('checkContinue', gated);

    const idleTimeout = _options.idleTimeout ?? RELAY_DEFAULTS.idleTimeout;
    this._wss = new WebSocketServer({
      noServer: true,
      maxPayload: _options.maxPayload,
      maxBackpressure: _options.maxBackpressure,
      backpressurePolicy: _options.backpressurePolicy,
      // The connection bound is the gate's: it counts every connection, WebSockets among them.
      handshakeTimeout,
      ...(idleTimeout > 0 ? { idleTimeout } : {}),
      ...(_options.heartbeat > 0 ? { heartbeat: { interval: _options.heartbeat, timeout: _options.heartbeat } } : {}),
      // wavecast.v1 when offered; any other subprotocol is not taken (a plain client).
      handleProtocols: (protocols) => (protocols.has(V1_PROTOCOL) ? V1_PROTOCOL : false),
      authenticate: (request) => this._admit(access, request),
    });
    const limiter = new RateLimiter(_options.rateLimit, this._clock);
    this._plain = new PlainRelay(
      this._wss,
      limiter,
      this.metrics,
      log,
      (channel, data, binary, ws, from) => {
        const published = this.publish(channel, data, binary, 'websocket', from);
        // Not stored, so not published: a plain client has no way to be told but this (1013 Try Again Later).
        if (published instanceof Promise)
          published.catch(() => ws.close(1013, 'The relay could not store the message (broker unreachable)'));
      },
      watch,
      this._expiry,
      access.namespaces,
    );
    this._v1 = new V1Hub({
      wss: this._wss,
      history: this.history,
      publish: (channel, data, binary, from) => {
        const published = this.publish(channel, data, binary, 'websocket', from);
        return published instanceof Promise ? published.then((p) => p.message) : published.message;
      },
      limiter,
      metrics: this.metrics,
      log,
      maxPayload: _options.maxPayload,
      maxChannels: _options.maxChannelsPerConnection ?? RELAY_DEFAULTS.maxChannelsPerConnection,
      maxHeldBytes: _options.maxBackpressure,
      presenceUpdates: _options.presenceUpdates ?? RELAY_DEFAULTS.presenceUpdates,
      ...(watch !== null ? { watch } : {}),
      expiry: this._expiry,
      namespaces: access.namespaces,
      authenticate: (token) => access.verify(token),
      authTimeout: handshakeTimeout,
    });
    this._cluster?.start({
      deliver: (message) => this._deliverLocal(message),
      reset: (channel, epoch) => this._v1.reset(channel, epoch),
      local: (channel) => {
        const users = this._localUsers(channel);
        return { names: this._v1.localNames(channel), plain: this._plainCounts.get(channel) ?? 0, ...(users.length > 0 ? { users } : {}) };
      },
      command: (command) => this._carryOut(command),
      localChannels: () => [...new Set([...this._plainCounts.keys(), ...this._cluster!.feed.channels])],
      presenceChanged: (channel, event, name, user) => this._v1.announce(channel, event, name, user),
    });
    this._wss.on('connection', (ws: WebSocket, request: IncomingMessage, admitted: Admitted) => {
      this._gate.upgraded(request.socket);
      if (ws.protocol === V1_PROTOCOL) this._v1.accept(ws, peerOf(request), admitted.identity);
      else this._plain.accept(ws, admitted.channel, peerOf(request), admitted.identity!);
    });
    this._wss.on('drop', (ws: WebSocket, dropped: number) => {
      if (dropped === 1) log.warn('client too slow: skipping messages for it until it catches up', this._describe(ws));
    });
    this._wss.on('drain', (ws: WebSocket, dropped: number) => {
      log.info('slow client caught up', { ...this._describe(ws), missed: dropped });
    });
    this._wss.on('authError', (error: unknown) => log.error('upgrade check failed', { error: String(error) }));
    // Upgrades to /docs/<name> are collaborative documents' editors; every other path is a channel.
    this._server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (docs?.claimsUpgrade(pathOf(request.url))) docs.handleUpgrade(request, socket, head);
      else this._wss.handleUpgrade(request, socket, head, (ws, req, admitted) => this._wss.emit('connection', ws, req, admitted));
    });
    // The HTTP server's errors: one before listening (a port in use) is the start's failure, which start()
    // rejects with for its caller to report in its own words; _listen logs those that come after.
  }

  /** Creates the relay and starts listening; rejects if it cannot (port in use, say). */
  static async start(options: RelayOptions): Promise<Relay> {
    let relay: Relay | undefined;
    const jwt = options.jwt !== undefined ? await JwtVerifier.create(options.jwt) : null;
    const docs =
      options.docs === undefined
        ? null
        : await startDocs(options.docs, {
            log: options.log,
            access: new Access({
              token: options.token,
              origins: options.origins,
              jwt: jwt ?? undefined,
              proxy: proxyOf(options),
              apiKey: options.apiKey,
              namespaces: options.namespaces,
            }),
            ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
            heartbeat: options.heartbeat,
            maxConnections: options.maxConnections,
            maxBackpressure: options.maxBackpressure,
            otherConnections: () => relay?._wss.clients.size ?? 0,
          });
    relay = new Relay(options, docs, jwt);
    try {
      await relay._listen();
    } catch (error) {
      await docs?.close(0);
      throw error;
    }
    return relay;
  }

  /** Sweeps the history a few times per (shortest) ttl (at most once a second, at least once a minute). */
  private _startSweep(ttl: number): void {
    const history = this.history;
    if (history.sweep === undefined || !(ttl > 0)) return;
    let running = false;
    this._sweep = setInterval(
      () => {
        if (running) return;
        running = true;
        Promise.resolve()
          .then(() => history.sweep!())
          .catch((error: unknown) =>
            this._options.log.warn('freeing idle channels failed; trying again later', {
              error: String((error as Error)?.message ?? error),
            }),
          )
          .finally(() => (running = false));
      },
      Math.min(60_000, Math.max(1000, ttl / 4)),
    );
    this._sweep.unref();
  }

  private _listen(): Promise<void> {
    const server = this._server;
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        // The port is known now (--port 0 picks one): pages served from these origins are the relay's own.
        this._access.allowOwnOrigins(
          ownOrigins(this._secure ? 'https' : 'http', this._options.host, this.address().port, this._options.publicUrls),
        );
        server.on('error', (error: Error) => this._options.log.error('server error', { error: error.message }));
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(this._options.port, this._options.host);
    });
  }

  /**
   * Decides an upgrade: the connection's place (the gate), origin, who it is (token), the channel its
   * path names, then (a plain connection) whether that user may subscribe to it. A wavecast.v1
   * connection may come without a token when users are required: it then sends an `auth` envelope.
   */
  private async _admit(access: Access, request: IncomingMessage): Promise<Admitted> {
    const refusal = this._gate.refusalOf(request.socket);
    if (refusal !== null) throw new UpgradeRejection(refusal.status, refusal.body);
    const v1 = offersV1(request);
    const origin = access.checkOrigin(request);
    const identity = origin ?? (await access.identify(request, true, v1));
    if (isDenial(identity)) throw this._refuse(request, identity.status, identity.body, identity.headers);
    const channel = channelOfTarget(request.url);
    if (!channel.ok) throw this._refuse(request, 400, channel.message);
    const forbidden = v1 ? null : access.namespaces.subscribeRefusal(identity!, channel.channel);
    if (forbidden !== null) throw this._refuse(request, 403, forbidden);
    return { channel: channel.channel, identity };
  }

  private _refuse(request: IncomingMessage, status: number, body: string, headers?: Record<string, string>): UpgradeRejection {
    this._options.log.info('upgrade refused', { peer: peerOf(request), status, reason: body });
    return new UpgradeRejection(status, body, headers);
  }

  private _describe(ws: WebSocket): Record<string, string | undefined> {
    return this._v1.describe(ws) ?? { channel: this._plain.channelOf(ws), peer: this._plain.peerOf(ws) };
  }

  /**
   * Publishes a message on a channel, from any source: the history stamps it with the channel's next
   * sequence number (and keeps it), then plain clients get the payload as it is and wavecast.v1 clients
   * a `message` envelope. Resolves (synchronously with the in-memory store) with the stamped message.
   * `from`: the id of the wavecast.v1 connection that published it.
   */
  publish(channel: string, data: Buffer, binary: boolean, source: 'http' | 'websocket', from?: string): Published | Promise<Published> {
    if (this._cluster !== null) return this._publishCluster(this._cluster, channel, data, binary, source, from);
    const appended = this.history.append(channel, data, binary, from);
    if (!(appended instanceof Promise)) return this._deliver(appended, source);
    const delivered = this._appending.then(() => appended).then((message) => this._deliver(message, source));
    this._appending = delivered.catch(() => undefined);
    return delivered;
  }

  private _deliver(message: StoredMessage, source: 'http' | 'websocket'): Published {
    this.metrics.received(source, message.data.length);
    return { message, delivered: this._deliverLocal(message) };
  }

  /** Writes a stamped message to this node's plain clients and v1 members of its channel. */
  private _deliverLocal(message: StoredMessage): number {
    const plain =
      this._wss.subscriberCount(message.channel) > 0 ? this._wss.publish(message.channel, message.data, { binary: message.binary }) : 0;
    const delivered = plain + this._v1.deliver(message);
    this.metrics.sent(message.data.length, delivered);
    return delivered;
  }

  /**
   * In a cluster: the shared history numbers and keeps the message (if it cannot, the publish fails and
   * nothing is delivered), the other nodes are sent it, and the feed delivers it here in sequence order.
   * `delivered` counts this node's connections written to at once.
   */
  private async _publishCluster(
    cluster: RelayCluster,
    channel: string,
    data: Buffer,
    binary: boolean,
    source: 'http' | 'websocket',
    from: string | undefined,
  ): Promise<Published> {
    let message: StoredMessage;
    try {
      // A copy: the data may be a view of a buffer its owner reuses, and the feed may hold it.
      message = await this.history.append(channel, Buffer.from(data), binary, from);
    } catch (error) {
      this.metrics.publishFailures++;
      this._options.log.warn('publish refused: the shared history could not store it', {
        channel,
        source,
        broker: cluster.broker,
        error: String((error as Error)?.message ?? error),
      });
      throw error;
    }
    this.metrics.received(source, message.data.length);
    cluster.publish(message);
    return { message, delivered: cluster.feed.offer(message, true) };
  }

  /** Connections on a channel: this node's plain and v1 ones, and in a cluster those of the other nodes. */
  online(channel: string): number {
    const local = this._wss.subscriberCount(channel) + this._v1.count(channel);
    if (this._cluster === null) return local;
    const remote = this._cluster.presence.remote(channel);
    return local + remote.plain + remote.names.length;
  }

  /** [user id, name] of this node's connections to a channel that are verified users. */
  private _localUsers(channel: string): Array<[string, string]> {
    if (!this._access.usersRequired) return [];
    return [...this._v1.localUsers(channel), ...this._plain.localUsers(channel)];
  }

  /** Who is on a channel, on every node: the count, the wavecast.v1 names, and the verified users. */
  presenceOf(channel: string): { online: number; names: string[]; users: Array<{ user: string; name: string }> } {
    const pairs = this._localUsers(channel);
    const names = this._v1.localNames(channel);
    if (this._cluster !== null) {
      const remote = this._cluster.presence.remote(channel);
      pairs.push(...(remote.users ?? []));
      names.push(...remote.names);
    }
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { online: this.online(channel), names: names.sort(), users: pairs.map(([user, name]) => ({ user, name })) };
  }

  /**
   * A server API command (disconnect a user, remove a user from a channel): carried out on this node
   * and, in a cluster, sent to every other node. Answers how many of this node's connections it touched.
   */
  command(command: ClusterCommand): number {
    if (this._cluster !== null) {
      try {
        this._cluster.command(command);
      } catch (error) {
        this._options.log.warn('a server API command could not be sent to the other nodes', { op: command.op, error: String(error) });
      }
    }
    return this._carryOut(command);
  }

  private _carryOut(command: ClusterCommand): number {
    if (command.op === 'disconnect') return this._v1.disconnect(command.user) + this._plain.disconnect(command.user);
    return this._v1.remove(command.user, command.channel) + this._plain.disconnect(command.user, command.channel);
  }

  /** Channels with connections, on every node, with their counts (busiest first). */
  channels(): Array<{ channel: string; online: number }> {
    const names = new Set([
      ...this._wss.topics.map(channelOfTopic),
      ...this._v1.channels(),
      ...(this._cluster?.presence.remoteChannels() ?? []),
    ]);
    return [...names]
      .map((channel) => ({ channel, online: this.online(channel) }))
      .filter((c) => c.online > 0)
      .sort((a, b) => b.online - a.online || (a.channel < b.channel ? -1 : 1));
  }

  /** This node, for the server API's info. */
  info(): Record<string, unknown> {
    return {
      node: this._cluster?.adapter.nodeId ?? null,
      broker:
        this._cluster !== null
          ? { name: this._cluster.broker, state: this._cluster.linkState, nodes: this._cluster.presence.nodes + 1 }
          : null,
      connections: this._wss.clients.size,
      channels: new Set(this._wss.topics.map(channelOfTopic)).size,
      uptime: Math.round(process.uptime()),
      users: this._options.authUrl !== undefined ? 'auth-url' : this._access.usersRequired ? 'jwt' : 'anonymous',
      documents: this.documents ?? null,
    };
  }

  /** What a cluster node tells of local clients: the feed listens to their channels, presence is shared. */
  private _watch(cluster: RelayCluster): ChannelWatch {
    return {
      joined: (channel, name, user) => {
        if (name === null) this._plainCounts.set(channel, (this._plainCounts.get(channel) ?? 0) + 1);
        const ready = cluster.feed.retain(channel);
        cluster.presence.localChanged(channel, name === null ? undefined : change('join', name, user));
        return ready;
      },
      left: (channel, name, user) => {
        if (name === null) {
          const count = (this._plainCounts.get(channel) ?? 1) - 1;
          if (count > 0) this._plainCounts.set(channel, count);
          else this._plainCounts.delete(channel);
        }
        cluster.feed.release(channel);
        cluster.presence.localChanged(channel, name === null ? undefined : change('leave', name, user));
      },
      remote: (channel) => cluster.presence.remote(channel),
    };
  }

  /** Collaborative documents: where they are kept (none: off). */
  get documents(): string | undefined {
    return this._docs?.description;
  }

  /** The bound address. */
  address(): AddressInfo {
    return this._server.address() as AddressInfo;
  }

  /** ws://address:port (wss:// with TLS), with the address that was bound. */
  get url(): string {
    const { address, port, family } = this.address();
    const host = family === 'IPv6' || address.includes(':') ? `[${address}]` : address;
    return `${this._secure ? 'wss' : 'ws'}://${host}:${port}`;
  }

  metricsText(): string {
    const wss = this._wss;
    let queuedBytes = 0;
    for (const ws of wss.clients) queuedBytes += ws.bufferedAmount;
    return (
      renderMetrics({
        metrics: this.metrics,
        stats: wss.stats,
        connections: wss.clients.size,
        queuedBytes,
        channels: [...new Set(wss.topics.map(channelOfTopic))],
        subscriberCount: (channel) => this.online(channel),
        topChannels: this._options.metricsChannels,
        broker: this._brokerMetrics(),
        gate: { open: this._gate.open, stats: this._gate.stats },
      }) + (this._docs?.metricsText() ?? '')
    );
  }

  private _brokerMetrics(): BrokerMetrics | undefined {
    const cluster = this._cluster;
    if (cluster === null) return undefined;
    const { stats } = cluster.adapter;
    return {
      broker: cluster.store.broker.toLowerCase(),
      up: cluster.linkState === 'connected',
      disconnects: stats.disconnects,
      reconnects: stats.reconnects,
      received: stats.received,
      nodes: cluster.presence.nodes,
    };
  }

  /**
   * Shuts down gracefully: stops accepting, closes every WebSocket with 1001 after what was queued for it,
   * lets HTTP requests under way finish, and resolves once everything is closed. What is still open after
   * `timeout` ms is cut off.
   */
  close(timeout: number): Promise<void> {
    this._closing ??= this._close(timeout);
    return this._closing;
  }

  /**
   * One deadline for everything: WebSockets get their close frame after what was queued, HTTP requests
   * under way may finish, and at `timeout` whatever is still connected (a slow reader, a slow upload, a
   * head or TLS handshake under way) is cut. The broker link is let go after, within the same deadline.
   */
  private async _close(timeout: number): Promise<void> {
    this._clock.stop();
    this._expiry.stop();
    if (this._sweep !== null) clearInterval(this._sweep);
    this._v1.stop();
    const server = this._server;
    let deadlineReached!: () => void;
    const deadline = new Promise<void>((resolve) => (deadlineReached = resolve));
    const timer = setTimeout(() => {
      const open = this._gate.open;
      if (open > 0) this._options.log.warn('shutdown timeout: cutting off what is still connected', { connections: open });
      this.terminate();
      deadlineReached();
    }, timeout);
    const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.all([this._wss.close({ code: 1001, reason: 'Server shutting down', timeout }), this._docs?.close(timeout)]);
    server.closeIdleConnections();
    await httpClosed;
    if (this._cluster !== null) await Promise.race([this._cluster.close(), deadline]);
    clearTimeout(timer);
  }

  /** Cuts every connection now (at the shutdown's deadline, or for a second signal). */
  terminate(): void {
    for (const ws of this._wss.clients) ws.terminate();
    this._docs?.terminate();
    this._server.closeAllConnections();
    this._gate.destroyAll();
  }
}

/**
 * The connection bound: --max-connections (0: none), but never more than the file descriptors allow
 * (less a reserve for what is not a client, and room for the refusals being answered), so that the
 * process does not run out of descriptors before it reaches its own bound.
 */
function connectionLimit(maxConnections: number, log: Logger): number {
  const wanted = maxConnections > 0 ? maxConnections : Infinity;
  const descriptors = descriptorLimit();
  if (descriptors === null) return wanted;
  const room = Math.max(1, descriptors - RESERVED_DESCRIPTORS - REFUSING);
  if (wanted <= room) return wanted;
  log.warn(`the file descriptor limit (ulimit -n ${descriptors}) allows ${room} connections: serving at most that many`, {
    maxConnections: maxConnections > 0 ? maxConnections : 'none',
  });
  return room;
}

export function peerOf(request: IncomingMessage): string {
  const socket = request.socket;
  const address = socket.remoteAddress ?? 'unknown';
  return address.includes(':') ? `[${address}]:${socket.remotePort}` : `${address}:${socket.remotePort}`;
}

/** Whether an upgrade offers the wavecast.v1 subprotocol (the one the relay then takes). */
function offersV1(request: IncomingMessage): boolean {
  const offered = request.headers['sec-websocket-protocol'];
  if (offered === undefined) return false;
  return offered.split(',').some((protocol) => protocol.trim() === V1_PROTOCOL);
}

function proxyOf(options: RelayOptions): ConnectProxy | undefined {
  return options.authUrl === undefined ? undefined : new ConnectProxy(options.authUrl, options.log);
}
