// WebSocketServer: accepts HTTP upgrades and turns them into WebSocket connections, with the options
// and events of the `ws` package's server, and wires in the real-time features that live beside it:
// topics (topics.ts), the slow-client policy (backpressure.ts), the sweep (sweep.ts), admission
// (admission.ts), graceful shutdown (shutdown.ts), and the hook for a cluster adapter (cluster-hook.ts).
import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  DEFAULT_MAX_BUFFERED_CHUNKS,
  WebSocket,
  isConnectionSocket,
  type ConnectionOptions,
  type Opening,
  type SendData,
} from '../connection/websocket.js';
import { createDeflateCompression } from '../connection/deflate-codec.js';
import {
  negotiateDeflateAsServer,
  resolveDeflateOptions,
  type DeflateAgreement,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
} from '../protocol/deflate.js';
import { checkUpgradeRequest, headerValue, upgradeResponseLines } from '../protocol/handshake.js';
import { ClusterHook, type ClusterAdapter } from './cluster-hook.js';
import { OriginList, runAuthenticate, type AuthenticateHook, type AuthenticateInfo, type Refusal } from './admission.js';
import { SlowClientGate } from './backpressure.js';
import { Shutdown, resolveCloseOptions, type GracefulCloseOptions } from './shutdown.js';
import { resolveRealtimeOptions, type RealtimeOptions } from './realtime-options.js';
import { createStats, type ServerStats } from './stats.js';
import { Sweeper } from './sweep.js';
import { TopicRegistry, type PublishOptions } from './topics.js';
import type { ServerEventMethods } from './server-events.js';
import { abortHandshake, createUpgradeServer, destroyOnError } from './upgrade-server.js';
import { AddressLimit } from './address-limit.js';

export interface VerifyClientInfo<Request extends IncomingMessage = IncomingMessage> {
  /** The Origin header (Sec-WebSocket-Origin from a version 8 client). */
  origin: string;
  secure: boolean;
  req: Request;
}
export type VerifyClientCallback = (result: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void;
export type VerifyClientSync<Request extends IncomingMessage = IncomingMessage> = (info: VerifyClientInfo<Request>) => boolean;
export type VerifyClientAsync<Request extends IncomingMessage = IncomingMessage> = (
  info: VerifyClientInfo<Request>,
  callback: VerifyClientCallback,
) => void;

export interface ServerOptions<T extends WebSocketClass = WebSocketClass> extends RealtimeOptions {
  port?: number;
  host?: string;
  backlog?: number;
  server?: HttpServer | HttpsServer;
  noServer?: boolean;
  /** Accept upgrades only for this path (the URL without its query). */
  path?: string;
  /** Largest message accepted, in bytes (default 100 MiB); larger ones close the connection with 1009. */
  maxPayload?: number;
  /** Keep the set of connected sockets in `clients` (default true). */
  clientTracking?: boolean;
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  verifyClient?: VerifyClientSync | VerifyClientAsync;
  /** permessage-deflate (RFC 7692): off by default; true or options to accept clients' offers. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  skipUTF8Validation?: boolean;
  autoPong?: boolean;
  /** How long a closing handshake may take before the socket is destroyed (ms, default 30000). */
  closeTimeout?: number;
  /** Hand out several messages, pings and pongs in one turn of the event loop (default true). */
  allowSynchronousEvents?: boolean;
  /** Most frames one message may come in (0, the default: no limit); more close the connection with 1008. */
  maxFragments?: number;
  /** Most reads one frame may arrive in (default 262144; 0: no limit); more close the connection with 1008. */
  maxBufferedChunks?: number;
  /** Accepted for `ws`'s sake; Wavecast never holds more than one automatic pong per connection. */
  maxPendingAutoPongs?: number;
  /**
   * The class to make connections with: WebSocket or a subclass of it, called as `new WebSocket(null,
   * undefined, options)` as `ws` does. The package's WebSocketServer defaults to the package's WebSocket.
   */
  WebSocket?: T;

  // ---- real-time server options (beyond `ws`; the others are in RealtimeOptions) ----
  /** Largest request header block accepted, in bytes (only when the server makes its own HTTP server; 431 beyond it). */
  maxHeaderSize?: number;
  /** Origins allowed to connect from a browser page (exact, like 'https://chat.example.com'; '*' for any). */
  origins?: readonly string[];
  /** Decides, possibly asynchronously, whether an upgrade may go ahead (see AuthenticateHook). */
  authenticate?: AuthenticateHook;
  /**
   * Carries `publish()` to the other nodes of a cluster and delivers theirs here (a RedisAdapter, a
   * NatsAdapter, ...). Without it, publishes stay in this process.
   */
  adapter?: ClusterAdapter;
}

/** A class a server can make its connections with (see ServerOptions.WebSocket). */
export type WebSocketClass = new (address: null, protocols: undefined, options: unknown) => WebSocket;

export type UpgradeCallback<Socket extends WebSocket = WebSocket> = (ws: Socket, request: IncomingMessage, auth?: unknown) => void;

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

// A ServerHost (connection/websocket.ts) by its shape: no `implements`, so that the published declarations
// name none of the internals. T is the class of its sockets (the `WebSocket` option), as in `@types/ws`.
export class WebSocketServer<T extends WebSocketClass = WebSocketClass> extends EventEmitter {
  /** The options, with `ws`'s defaults filled in. */
  readonly options: ServerOptions & { maxPayload: number; clientTracking: boolean };
  /** The connected sockets; as in `ws`, undefined with `clientTracking: false`. */
  readonly clients: Set<InstanceType<T>>;

  /** What the server's policies did: dropped messages, slow-client closes, timeouts, refusals. */
  readonly stats: ServerStats;

  /** @internal */
  private _server: HttpServer | HttpsServer | null = null;
  /** @internal */
  private _removeListeners: (() => void) | null = null;
  /** @internal */
  private _state = RUNNING;
  /** @internal */
  private readonly _deflate: ResolvedDeflateOptions | null;
  /** @internal */
  private _httpClosed = false;
  /** @internal */
  private _closeScheduled = false;
  /** @internal */
  private _shutdown: Shutdown | null = null;
  /** @internal */
  private readonly _connectionOptions: ConnectionOptions;
  /** @internal */
  private readonly _WebSocket: WebSocketClass;
  /** @internal Every open connection, tracked or not (the same set as `clients` when clientTracking is on). */
  private readonly _connections: Set<WebSocket>;
  /** @internal */
  private readonly _topics: TopicRegistry;
  /** @internal */
  private readonly _cluster: ClusterHook | null;
  /** @internal */
  private readonly _gate: SlowClientGate;
  /** @internal */
  private readonly _sweeper: Sweeper;
  /** @internal */
  private readonly _origins: OriginList | null;
  /** @internal */
  private readonly _maxConnections: number;
  /** @internal maxConnectionsPerIp, when set. */
  private readonly _addressLimit: AddressLimit | null;
  /** @internal The opening record given to the last connection, shared by the next ones that open alike. */
  private _lastOpening: Opening | null = null;

  constructor(options: ServerOptions<T> = {}, callback?: () => void) {
    super();
    const modes = [options.port != null, options.server != null, options.noServer === true].filter(Boolean).length;
    if (modes !== 1) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    this.options = {
      allowSynchronousEvents: true,
      autoPong: true,
      maxBufferedChunks: DEFAULT_MAX_BUFFERED_CHUNKS,
      maxFragments: 0,
      maxPendingAutoPongs: 60,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      clientTracking: true,
      closeTimeout: 30_000,
      noServer: false,
      WebSocket,
      ...options,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    };
    this._connections = new Set();
    // A lie to the type system, as `ws`'s own types tell it: the set is there only with clientTracking.
    this.clients = (this.options.clientTracking ? this._connections : undefined) as Set<InstanceType<T>>;
    this._WebSocket = options.WebSocket ?? WebSocket;
    this._deflate = resolveDeflateOptions(options.perMessageDeflate ?? false);
    this.stats = createStats();
    const realtime = resolveRealtimeOptions(options);
    this._gate = new SlowClientGate(realtime.maxBackpressure, realtime.backpressurePolicy, this, this.stats);
    this._topics = new TopicRegistry(this._gate, this._deflate);
    this._cluster = options.adapter != null ? new ClusterHook(this._topics, options.adapter) : null;
    this._cluster?.attach();
    this._sweeper = new Sweeper(this._connections, realtime, this.stats, onHandshakeExpired);
    this._maxConnections = realtime.maxConnections;
    this._addressLimit = realtime.maxConnectionsPerIp < Infinity ? new AddressLimit(realtime.maxConnectionsPerIp) : null;
    this._origins = options.origins ? new OriginList(options.origins) : null;
    this._connectionOptions = {
      maxPayload: this.options.maxPayload,
      skipUTF8Validation: options.skipUTF8Validation ?? false,
      autoPong: options.autoPong ?? true,
      closeTimeout: options.closeTimeout ?? 30_000,
      allowSynchronousEvents: options.allowSynchronousEvents ?? true,
      maxFragments: options.maxFragments ?? 0,
      maxBufferedChunks: options.maxBufferedChunks ?? DEFAULT_MAX_BUFFERED_CHUNKS,
    };

    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head, (ws, request, auth) => {
        if (this.options.authenticate) this.emit('connection', ws, request, auth);
        else this.emit('connection', ws, request);
      });
    };
    if (options.port != null) {
      // A server of our own does nothing but upgrade (upgrade-server.ts). Every TCP connection is a
      // handshake to be, and its clock starts at accept (slow-loris).
      const server = createUpgradeServer(options.maxHeaderSize);
      server.on('connection', (socket: Socket) => {
        if (this._admitAddress(socket)) this._sweeper.handshakeStarted(socket, false);
      });
      this._server = server;
      server.listen(options.port, options.host, options.backlog, callback);
    } else if (options.server) {
      // The user's HTTP server: the clock starts at the upgrade request.
      this._server = options.server;
    }
    if (this._server) {
      const server = this._server;
      const onListening = () => this.emit('listening');
      const onError = (error: Error) => this.emit('error', error);
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      this._removeListeners = () => {
        server.removeListener('listening', onListening);
        server.removeListener('error', onError);
        server.removeListener('upgrade', onUpgrade);
      };
    }
  }

  /** The bound address of the server's HTTP server. */
  address(): AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (!this._server) return null;
    return this._server.address();
  }

  /** Whether this server handles an upgrade request (by default: the `path` option matches). */
  shouldHandle(req: IncomingMessage): boolean {
    if (this.options.path) {
      const url = req.url ?? '';
      const index = url.indexOf('?');
      const pathname = index === -1 ? url : url.slice(0, index);
      if (pathname !== this.options.path) return false;
    }
    return true;
  }

  /**
   * Completes (or refuses) the opening handshake of an upgrade request and calls back with the new
   * socket (and, when an `authenticate` hook is set, what it returned). For `noServer` mode and custom
   * routing.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback<InstanceType<T>>): void {
    socket.on('error', destroyOnError);
    if (!this._admitAddress(socket)) return;
    this._sweeper.handshakeStarted(socket, true);
    const check = checkUpgradeRequest(req);
    if (!check.ok) {
      this._refuse(socket, req, check.status, check.message, check.headers);
      return;
    }
    if (!this.shouldHandle(req)) {
      this._sweeper.handshakeEnded(socket);
      abortHandshake(socket, 400);
      return;
    }
    const origin = headerValue(req, check.version === 8 ? 'sec-websocket-origin' : 'origin');
    const originRefusal = this._origins?.check(origin) ?? null;
    if (originRefusal !== null) {
      this._deny(socket, originRefusal);
      return;
    }
    const perAddress = this._addressLimit?.refusal(socket) ?? null;
    if (perAddress !== null) {
      this._deny(socket, perAddress);
      return;
    }
    if (this._atCapacity()) {
      this._deny(socket, this._capacityRefusal());
      return;
    }
    let deflate: DeflateAgreement | null = null;
    if (this._deflate !== null && check.extensions !== undefined) {
      const negotiation = negotiateDeflateAsServer(check.extensions, this._deflate);
      if (!negotiation.ok) {
        this._refuse(socket, req, 400, 'Invalid or unacceptable Sec-WebSocket-Extensions header');
        return;
      }
      deflate = negotiation.agreement;
    }
    const info: AuthenticateInfo = {
      origin,
      secure: Boolean(
        (req.socket as { authorized?: boolean; encrypted?: boolean }).authorized || (req.socket as { encrypted?: boolean }).encrypted,
      ),
    };
    const complete = (auth?: unknown) => this._complete(req, socket, head, check.key, check.protocols, deflate, callback, auth);
    const authenticate = () => {
      const hook = this.options.authenticate;
      if (!hook) {
        complete();
        return;
      }
      runAuthenticate(hook, req, info, complete, (refusal, error) => {
        if (error !== undefined && this.listenerCount('authError') > 0) this.emit('authError', error, req);
        this._deny(socket, refusal);
      });
    };
    const verifyClient = this.options.verifyClient;
    if (!verifyClient) {
      authenticate();
      return;
    }
    const verifyInfo = { ...info, req } as VerifyClientInfo;
    if (verifyClient.length === 2) {
      (verifyClient as VerifyClientAsync)(verifyInfo, (verified, code, message, headers) => {
        if (!verified)
          this._deny(socket, {
            status: code || 401,
            body: message ?? '',
            ...(headers ? { headers: headers as Record<string, string | number> } : {}),
          });
        else authenticate();
      });
    } else if (!(verifyClient as VerifyClientSync)(verifyInfo)) {
      this._deny(socket, { status: 401, body: '' });
    } else {
      authenticate();
    }
  }

  /** @internal */
  private _complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    key: string,
    protocols: string[],
    deflate: DeflateAgreement | null,
    callback: UpgradeCallback<InstanceType<T>>,
    auth: unknown,
  ): void {
    if (!socket.readable || !socket.writable) {
      this._sweeper.handshakeEnded(socket);
      socket.destroy();
      return;
    }
    if (isConnectionSocket(socket)) {
      this._sweeper.handshakeEnded(socket);
      throw new Error('server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration');
    }
    if (this._state !== RUNNING) {
      this._deny(socket, { status: 503, body: '' });
      return;
    }
    if (this._atCapacity()) {
      this._deny(socket, this._capacityRefusal());
      return;
    }
    let protocol: string | undefined;
    if (protocols.length > 0) {
      const chosen = this.options.handleProtocols ? this.options.handleProtocols(new Set(protocols), req) : protocols[0];
      if (chosen) protocol = chosen;
    }
    const extensions = deflate?.response;
    const lines = upgradeResponseLines(key, protocol, extensions);
    this.emit('headers', lines, req);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    socket.removeListener('error', destroyOnError);
    this._sweeper.handshakeEnded(socket);

    const ws = new this._WebSocket(null, undefined, this.options);
    // As `ws.extensions` says in `ws`: the names of the extensions in use.
    ws._opening = this._openingFor(protocol ?? '', deflate !== null ? 'permessage-deflate' : '', req.url ?? '/');
    const compression = deflate
      ? createDeflateCompression(deflate.params, this._deflate!, { isServer: true, maxPayload: this.options.maxPayload })
      : null;
    ws._setSocket(socket, head, this._connectionOptions, compression);
    // Every connection reports its close to the server (its _opening names it as the host: topics, limits,
    // shutdown need it); only tracked ones are in `clients`, which is then the same set as `_connections`.
    this._connections.add(ws);
    this._sweeper.wake();
    callback(ws as InstanceType<T>, req, auth);
  }

  /** @internal What a connection's handshake settled: the last connection's record again when it settled the same. */
  private _openingFor(protocol: string, extensions: string, url: string): Opening {
    const last = this._lastOpening;
    if (last !== null && last.protocol === protocol && last.extensions === extensions && last.url === url) return last;
    const options = this._connectionOptions;
    return (this._lastOpening = Object.freeze({ protocol, extensions, url, abort: null, host: this, options }));
  }

  /** @internal Called by a connection as it closes. */
  _clientClosed(ws: WebSocket): void {
    this._connections.delete(ws);
    this._topics.removeAll(ws);
    this._gate.forget(ws);
    if (this._state === CLOSING) this._maybeEmitClose();
  }

  /** @internal socket.send(): the slow-client policy, as for publish and broadcast. */
  _admit(ws: WebSocket, bytes: number): boolean {
    return this._gate.admit(ws, bytes);
  }

  /** @internal socket.subscribe(topic). */
  _subscribe(ws: WebSocket, topic: string): boolean {
    return this._topics._subscribe(ws, topic);
  }

  /** @internal socket.unsubscribe(topic). */
  _unsubscribe(ws: WebSocket, topic: string): boolean {
    return this._topics._unsubscribe(ws, topic);
  }

  /** @internal socket.isSubscribed(topic). */
  _isSubscribed(ws: WebSocket, topic: string): boolean {
    return this._topics._isSubscribed(ws, topic);
  }

  /** @internal socket.topics. */
  _topicsOf(ws: WebSocket): string[] {
    return this._topics._topicsOf(ws);
  }

  // ---------------------------------------------------------------- pub/sub

  /**
   * Sends `data` to every open connection subscribed to `topic`. The message is framed once and the same
   * bytes are written to each subscriber; with permessage-deflate, the subscribers whose server side keeps
   * no context share one compression (see topics.ts). Returns how many connections it was written to. With
   * an `adapter`, the message also goes to the adapter, which carries it to the other nodes (`except`
   * applies to this server's connections only).
   */
  publish(topic: string, data: SendData, options?: PublishOptions): number {
    if (this._cluster !== null) return this._cluster.publish(String(topic), data, options);
    return this._topics.publish(topic, data, options);
  }

  /** The cluster adapter given as the `adapter` option, or null when publishes stay in this process. */
  get adapter(): ClusterAdapter | null {
    return this._cluster?.adapter ?? null;
  }

  /** Sends `data` to every open connection (tracked or not), framed once. Returns how many got it. */
  broadcast(data: SendData, options?: PublishOptions): number {
    return this._topics.deliver(this._connections, data, options);
  }

  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this._topics.subscriberCount(topic);
  }

  /** The topics that have at least one subscriber. */
  get topics(): string[] {
    return this._topics.topics();
  }

  // ---------------------------------------------------------------- refusals

  /** @internal */
  private _atCapacity(): boolean {
    return this._connections.size >= this._maxConnections;
  }

  /** @internal */
  private _capacityRefusal(): Refusal {
    return { status: 503, body: `The server has reached its limit of ${this._maxConnections} connections; try again later` };
  }

  /** @internal Counts a socket against its address (maxConnectionsPerIp); false, having destroyed it, for a flood. */
  private _admitAddress(socket: Duplex): boolean {
    if (this._addressLimit === null || this._addressLimit.admit(socket)) return true;
    this.stats.perAddressDrops++;
    socket.destroy();
    return false;
  }

  /** @internal */
  private _refuse(socket: Duplex, req: IncomingMessage, status: number, message: string, headers?: Record<string, string>): void {
    if (this.listenerCount('wsClientError') > 0) {
      const error = Object.assign(new Error(message), { code: 'WS_ERR_HANDSHAKE', statusCode: status });
      this.emit('wsClientError', error, socket, req);
      return;
    }
    this._sweeper.handshakeEnded(socket);
    abortHandshake(socket, status, message, headers);
  }

  /** @internal Refuses an upgrade by policy (a limit or a hook). An empty body is answered with the status text, as ws does. */
  private _deny(socket: Duplex, refusal: Refusal): void {
    this.stats.rejectedUpgrades++;
    this._sweeper.handshakeEnded(socket);
    abortHandshake(socket, refusal.status, refusal.body === '' ? undefined : refusal.body, refusal.headers);
  }

  // ---------------------------------------------------------------- closing

  /**
   * `close(callback)` stops accepting connections and leaves open ones alone (as in `ws`); 'close' is
   * emitted once the server has stopped and, when clients are tracked, the last of them has closed.
   *
   * `close({ code, reason, timeout }, callback)` shuts down gracefully: it stops accepting, closes every
   * connection with `code` (default 1001) after what it had queued, waits up to `timeout` ms for the
   * closing handshakes, terminates what is left, and resolves (and calls back) once all are gone.
   */
  close(callback?: (error?: Error) => void): void;
  close(options: GracefulCloseOptions, callback?: (error?: Error) => void): Promise<void>;
  close(optionsOrCallback?: GracefulCloseOptions | ((error?: Error) => void), callback?: (error?: Error) => void): Promise<void> | void {
    if (typeof optionsOrCallback === 'object' && optionsOrCallback !== null) return this._closeGracefully(optionsOrCallback, callback);
    const cb = optionsOrCallback;
    if (this._state === CLOSED) {
      if (cb) this.once('close', () => cb(new Error('The server is not running')));
      process.nextTick(() => this._emitClose());
      return;
    }
    if (cb) this.once('close', cb);
    if (this._state === RUNNING) this._stopAccepting();
  }

  /** @internal */
  private _closeGracefully(options: GracefulCloseOptions, callback?: (error?: Error) => void): Promise<void> {
    const resolved = resolveCloseOptions(options);
    return new Promise<void>((resolve) => {
      const done = () => {
        resolve();
        callback?.();
      };
      if (this._state === CLOSED) {
        process.nextTick(done);
        return;
      }
      this.once('close', done);
      this._shutdown ??= new Shutdown(this._connections, resolved, () => this._sweeper.dropAllHandshakes());
      if (this._state === RUNNING) this._stopAccepting();
      else this._maybeEmitClose();
    });
  }

  /** @internal */
  private _stopAccepting(): void {
    this._state = CLOSING;
    this._removeListeners?.();
    this._removeListeners = null;
    this._sweeper.dropPendingHandshakes();
    const ownServer = this.options.port != null ? this._server : null;
    this._server = null;
    if (ownServer) {
      ownServer.close(() => {
        this._httpClosed = true;
        this._maybeEmitClose();
      });
    } else {
      this._httpClosed = true;
      this._maybeEmitClose();
    }
  }

  /** @internal Emits 'close' once stopped and, as the kind of close asks, the connections it waits for are gone. */
  private _maybeEmitClose(): void {
    if (this._state !== CLOSING || this._closeScheduled || !this._httpClosed) return;
    const waitingFor = this._shutdown !== null || this.options.clientTracking ? this._connections.size : 0;
    if (waitingFor > 0) return;
    this._closeScheduled = true;
    this._shutdown?.finished();
    process.nextTick(() => this._emitClose());
  }

  /** @internal */
  private _emitClose(): void {
    this._state = CLOSED;
    this._sweeper.stop();
    this._cluster?.detach();
    this.emit('close');
  }
}

// Its EventEmitter methods, typed with its events (types only).
export interface WebSocketServer<T extends WebSocketClass = WebSocketClass> {
  on: ServerEventMethods<WebSocketServer<T>, this, InstanceType<T>>['on'];
  once: ServerEventMethods<WebSocketServer<T>, this, InstanceType<T>>['once'];
  off: ServerEventMethods<WebSocketServer<T>, this, InstanceType<T>>['off'];
  addListener: ServerEventMethods<WebSocketServer<T>, this, InstanceType<T>>['addListener'];
  removeListener: ServerEventMethods<WebSocketServer<T>, this, InstanceType<T>>['removeListener'];
}

/** A handshake past handshakeTimeout: an upgrade request still being decided is answered 408; a request
 * that never arrived whole (slow-loris) gets nothing but a closed socket. */
function onHandshakeExpired(socket: Duplex, upgrading: boolean): void {
  if (upgrading) abortHandshake(socket, 408, 'The WebSocket handshake took too long');
  else socket.destroy();
}
