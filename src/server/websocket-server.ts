// WebSocketServer: accepts HTTP upgrades and turns them into WebSocket connections, with the options
// and events of the `ws` package's server.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, type ConnectionOptions } from '../connection/websocket.js';
import {
  createDeflateCompression,
  negotiateDeflateAsServer,
  resolveDeflateOptions,
  type DeflateAgreement,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
} from '../protocol/deflate.js';
import { checkUpgradeRequest, errorResponse, upgradeResponseLines } from '../protocol/handshake.js';

export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: IncomingMessage;
}
export type VerifyClientCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string | number>) => void;
export type VerifyClientSync = (info: VerifyClientInfo) => boolean;
export type VerifyClientAsync = (info: VerifyClientInfo, callback: VerifyClientCallback) => void;

export interface ServerOptions {
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
  /** The class to create connections with (a subclass of WebSocket). */
  WebSocket?: typeof WebSocket;
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

export class WebSocketServer extends EventEmitter {
  readonly options: ServerOptions & { maxPayload: number; clientTracking: boolean };
  /** The connected sockets (when clientTracking is on). */
  readonly clients: Set<WebSocket>;

  private _server: HttpServer | HttpsServer | null = null;
  private _removeListeners: (() => void) | null = null;
  private _state = RUNNING;
  private _shouldEmitClose = false;
  private readonly _deflate: ResolvedDeflateOptions | null;
  private readonly _connectionOptions: ConnectionOptions;
  private readonly _WebSocket: typeof WebSocket;

  constructor(options: ServerOptions = {}, callback?: () => void) {
    super();
    const modes = [options.port != null, options.server != null, options.noServer === true].filter(Boolean).length;
    if (modes !== 1) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    this.options = {
      ...options,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      clientTracking: options.clientTracking ?? true,
    };
    this.clients = new Set();
    this._WebSocket = options.WebSocket ?? WebSocket;
    this._deflate = resolveDeflateOptions(options.perMessageDeflate ?? false);
    this._connectionOptions = {
      maxPayload: this.options.maxPayload,
      skipUTF8Validation: options.skipUTF8Validation ?? false,
      autoPong: options.autoPong ?? true,
      closeTimeout: options.closeTimeout ?? 30_000,
    };

    if (options.port != null) {
      const server = createServer((req, res) => {
        const body = 'Upgrade Required: this is a WebSocket server';
        res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket' });
        res.end(body);
      });
      this._server = server;
      server.listen(options.port, options.host, options.backlog, callback);
    } else if (options.server) {
      this._server = options.server;
    }
    if (this._server) {
      const server = this._server;
      const onListening = () => this.emit('listening');
      const onError = (error: Error) => this.emit('error', error);
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        this.handleUpgrade(req, socket, head, (ws, request) => this.emit('connection', ws, request));
      };
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
   * socket. For `noServer` mode and custom routing.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WebSocket, request: IncomingMessage) => void): void {
    socket.on('error', destroyOnError);
    const check = checkUpgradeRequest(req);
    if (!check.ok) {
      this._refuse(socket, req, check.status, check.message, check.headers);
      return;
    }
    if (!this.shouldHandle(req)) {
      this._refuse(socket, req, 400, `No WebSocket endpoint at ${req.url ?? '/'}`);
      return;
    }
    let deflate: DeflateAgreement | null = null;
    if (this._deflate !== null && check.extensions !== undefined) {
      const negotiation = negotiateDeflateAsServer(check.extensions, this._deflate);
      if (!negotiation.ok) {
        this._refuse(socket, req, 400, negotiation.message);
        return;
      }
      deflate = negotiation.agreement;
    }
    const complete = () => this._complete(req, socket, head, check.key, check.protocols, deflate, callback);
    const verifyClient = this.options.verifyClient;
    if (!verifyClient) {
      complete();
      return;
    }
    const info: VerifyClientInfo = {
      origin: headerValue(req, 'origin'),
      secure: Boolean((req.socket as { authorized?: boolean; encrypted?: boolean }).authorized || (req.socket as { encrypted?: boolean }).encrypted),
      req,
    };
    if (verifyClient.length === 2) {
      (verifyClient as VerifyClientAsync)(info, (verified, code, message, headers) => {
        if (!verified) this._reject(socket, code ?? 401, message, headers);
        else complete();
      });
    } else if (!(verifyClient as VerifyClientSync)(info)) {
      this._reject(socket, 401);
    } else {
      complete();
    }
  }

  private _complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    key: string,
    protocols: string[],
    deflate: DeflateAgreement | null,
    callback: (ws: WebSocket, request: IncomingMessage) => void,
  ): void {
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    if (this._state !== RUNNING) {
      this._reject(socket, 503, 'The server is shutting down');
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

    const ws = new this._WebSocket(null);
    ws._protocol = protocol ?? '';
    ws._extensions = extensions ?? '';
    ws._url = req.url ?? '/';
    const compression = deflate ? createDeflateCompression(deflate.params, this._deflate!, { isServer: true, maxPayload: this.options.maxPayload }) : null;
    ws._setSocket(socket, head, { ...this._connectionOptions, compression });
    if (this.options.clientTracking) {
      this.clients.add(ws);
      ws._tracker = this;
    }
    callback(ws, req);
  }

  /** @internal Called by a tracked connection as it closes. */
  _clientClosed(ws: WebSocket): void {
    this.clients.delete(ws);
    if (this._shouldEmitClose && this.clients.size === 0) {
      this._shouldEmitClose = false;
      process.nextTick(() => this._emitClose());
    }
  }

  private _refuse(socket: Duplex, req: IncomingMessage, status: number, message: string, headers?: Record<string, string>): void {
    if (this.listenerCount('wsClientError') > 0) {
      const error = Object.assign(new Error(message), { code: 'WS_ERR_HANDSHAKE', statusCode: status });
      this.emit('wsClientError', error, socket, req);
      return;
    }
    this._reject(socket, status, message, headers);
  }

  private _reject(socket: Duplex, status: number, message?: string, headers?: Record<string, string | number>): void {
    abortHandshake(socket, status, message, headers);
  }

  /**
   * Stops accepting connections. Open connections are left alone (as in `ws`); 'close' is emitted once
   * the server has stopped and, when clients are tracked, the last of them has closed.
   */
  close(callback?: (error?: Error) => void): void {
    if (this._state === CLOSED) {
      if (callback) this.once('close', () => callback(new Error('The server is not running')));
      process.nextTick(() => this._emitClose());
      return;
    }
    if (callback) this.once('close', callback);
    if (this._state === CLOSING) return;
    this._state = CLOSING;
    this._removeListeners?.();
    this._removeListeners = null;
    const ownServer = this.options.port != null ? this._server : null;
    this._server = null;
    if (ownServer) {
      ownServer.close(() => this._emitClose());
      return;
    }
    if (this.options.clientTracking && this.clients.size > 0) this._shouldEmitClose = true;
    else process.nextTick(() => this._emitClose());
  }

  private _emitClose(): void {
    this._state = CLOSED;
    this.emit('close');
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Answers a refused upgrade with an HTTP error and closes the socket. */
export function abortHandshake(socket: Duplex, status: number, message?: string, headers?: Record<string, string | number>): void {
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(errorResponse(status, message, headers));
  } else {
    socket.destroy();
  }
}
