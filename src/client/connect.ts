// The client's opening handshake: `new WebSocket(url, protocols, options)` sends an HTTP upgrade request,
// follows redirects when asked to, checks the 101 response, and hands the socket to the connection.
// Every failure (refused, reset, TLS, timeout, a bad or unexpected response) ends as 'error' (when
// listened for) then 'close' with 1006; nothing is thrown once the constructor has returned.
import {
  request as httpRequest,
  type ClientRequest,
  type ClientRequestArgs,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type NetConnectOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { WebSocket, type MessageCompression } from '../connection/websocket.js';
import { checkUpgradeResponse, generateKey, headerValue } from '../protocol/handshake.js';
import { checkResponseExtensions, createOffer, type ClientExtensionOffer } from './extensions.js';
import { readOptions, type Settings } from './options.js';
import { basicAuthorization, dropsCredentials, handshakeHeaders, lowerCaseNames, redirectHeaders } from './request.js';
import { parseProtocols, parseTarget, serverNameFor, type Target } from './url.js';

/** One client's opening handshake, from the first request to 'open' or 'close'. */
class Handshake {
  private readonly original: Target;
  private target: Target;
  private redirects = 0;
  /** The request under way; events of any earlier request are ignored. */
  private request: ClientRequest | null = null;
  /** The upgraded socket, between the 101 and the connection taking it over. */
  private socket: Duplex | null = null;
  private key = '';
  private offer: ClientExtensionOffer | null = null;
  private timer: NodeJS.Timeout | null = null;
  /**
   * With followRedirects: the user's headers (names in lower case) for every request of the chain, with the
   * first request's credentials as its Authorization, so that a later URL's credentials do not replace them
   * (as `ws` and curl do).
   */
  private carried: OutgoingHttpHeaders | null = null;

  constructor(
    private readonly ws: WebSocket,
    target: Target,
    private readonly protocols: readonly string[],
    private readonly settings: Settings,
  ) {
    this.original = target;
    this.target = target;
  }

  /**
   * Sends the request to the current target. Throws what http.request throws (bad options) and, after a
   * redirect, what a 'redirect' listener throws, as `ws` does.
   */
  send(): void {
    const { ws, target, settings } = this;
    let userHeaders = settings.headers;
    let auth = target.auth ?? settings.auth;
    if (settings.followRedirects) {
      const carried = (this.carried ??= lowerCaseNames(settings.headers));
      // What to drop on a redirect is the 'redirect' listener's to decide when there is one.
      const drop = this.redirects > 0 && ws.listenerCount('redirect') === 0 && dropsCredentials(this.original, target);
      userHeaders = drop ? redirectHeaders(carried, this.original, target) : { ...carried };
      if (drop) auth = undefined;
      if (auth !== undefined && carried.authorization === undefined) carried.authorization = basicAuthorization(auth);
    }
    this.key = generateKey();
    this.offer = createOffer(settings.perMessageDeflate, settings.maxPayload);
    const headers = handshakeHeaders({
      userHeaders,
      key: this.key,
      protocolVersion: settings.protocolVersion,
      protocols: this.protocols,
      extensions: this.offer?.header,
      origin: settings.origin,
      auth,
    });
    const options: ClientRequestArgs & TlsConnectionOptions = {
      ...settings.passThrough,
      method: 'GET',
      host: target.host,
      port: target.port,
      // The Host header names the port only when it is not the scheme's default, as browsers and `ws` do.
      defaultPort: target.secure ? 443 : 80,
      path: target.path,
      headers,
    };
    if (target.socketPath !== undefined) options.socketPath = target.socketPath;
    if (target.secure && options.servername === undefined) options.servername = serverNameFor(target.host);
    if (options.agent === undefined && options.createConnection === undefined) {
      // No pooling, as in `ws`: each WebSocket has its own connection.
      options.createConnection = target.secure ? connectTls : connectPlain;
    }

    const request = (target.secure ? httpsRequest : httpRequest)(options);
    this.request = request;
    request.on('error', (error) => {
      if (this.request === request) this.fail(error);
    });
    request.on('response', (response) => this.onResponse(request, response));
    request.on('upgrade', (response, socket, head) => this.onUpgrade(request, response, socket, head));

    if (settings.handshakeTimeout > 0) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fail(new Error('Opening handshake has timed out')), settings.handshakeTimeout);
    }
    if (this.redirects > 0) {
      // A listener may still change the request (its headers are not sent yet), or close the socket. What
      // it throws is not caught, as in `ws`.
      ws.emit('redirect', ws.url, request);
      if (this.request !== request) return;
    }
    if (settings.finishRequest) settings.finishRequest(request, ws);
    else request.end();
  }

  /** close() or terminate() before the handshake completed. */
  abort(message: string): void {
    this.cleanup();
    this.ws._readyState = WebSocket.CLOSING;
    const error = new Error(message);
    process.nextTick(() => this.ws._failHandshake(error));
  }

  private onResponse(request: ClientRequest, response: IncomingMessage): void {
    if (this.request !== request) {
      response.resume();
      return;
    }
    // A 101 comes here (not to 'upgrade') when it lacks the Upgrade or Connection header: for `ws` it is
    // an unexpected response like any other.
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (this.settings.followRedirects && status >= 300 && status < 400 && location !== undefined) {
      this.redirect(location);
      return;
    }
    if (this.ws.listenerCount('unexpected-response') === 0) {
      this.fail(new Error(`Unexpected server response: ${status}`));
      return;
    }
    // The listener reads the response (or closes the socket). Once the response is over, the socket
    // is closed with 1006; the listener has seen the failure, so no 'error' is emitted.
    response.once('close', () => {
      if (this.request === request) this.fail(null);
    });
    this.ws.emit('unexpected-response', request, response);
    // A body nobody reads would keep the response open: read it away, as http does with no listener.
    if (this.request === request && response.readableFlowing === null) response.resume();
  }

  private redirect(location: string): void {
    if (++this.redirects > this.settings.maxRedirects) {
      this.fail(new Error('Maximum redirects exceeded'));
      return;
    }
    let next: Target;
    try {
      next = parseTarget(location, this.target.url);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.dropRequest();
    this.target = next;
    this.ws._url = next.url.href;
    this.send();
  }

  private onUpgrade(request: ClientRequest, response: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore);
    if (this.request !== request) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    const { ws } = this;
    ws.emit('upgrade', response);
    if (ws.readyState !== WebSocket.CONNECTING || this.socket !== socket) return;

    const check = checkUpgradeResponse(response, this.key, this.protocols);
    if (!check.ok) {
      this.fail(new Error(check.message));
      return;
    }
    if (this.protocols.length > 0 && check.protocol === '') {
      // As browsers and `ws` do: a client that asked for subprotocols expects the server to pick one.
      this.fail(new Error('Server sent no subprotocol'));
      return;
    }
    const extensions = checkResponseExtensions(headerValue(response, 'sec-websocket-extensions'), this.offer);
    if (!extensions.ok) {
      this.fail(new Error(extensions.message));
      return;
    }
    this.open(socket, head, check.protocol, extensions.extensions, extensions.compression);
  }

  /**
   * The handshake failed: everything is released, then 'error' (when listened for and `error` is not
   * null) and 'close' with 1006.
   */
  private fail(error: Error | null): void {
    this.cleanup();
    this.ws._failHandshake(error);
  }

  /** The handshake succeeded: the connection takes the socket over and emits 'open'. */
  private open(socket: Duplex, head: Buffer, protocol: string, extensions: string, compression: MessageCompression | null): void {
    const { ws, settings } = this;
    this.socket = null;
    this.request = null;
    this.clearTimer();
    ws._abortHandshake = null;
    socket.removeListener('error', ignore);
    ws._protocol = protocol;
    ws._extensions = extensions;
    ws._setSocket(socket, head, settings.connection, compression);
  }

  /** Releases everything without events (the constructor is about to throw). */
  dispose(): void {
    this.cleanup();
  }

  private cleanup(): void {
    this.ws._abortHandshake = null;
    this.clearTimer();
    this.dropRequest();
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  /** Forgets the request under way and destroys it; its later events are ignored. */
  private dropRequest(): void {
    const request = this.request;
    this.request = null;
    request?.destroy();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

/** Opens `ws` as a client: what `new WebSocket(address, protocols, options)` does. Throws only for bad arguments. */
export function connect(ws: WebSocket, address: string | URL, protocols: unknown, options: unknown): void {
  if (protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
    // The `ws` form new WebSocket(url, options).
    options = protocols;
    protocols = undefined;
  }
  // As in `ws`, without a protocols argument the subprotocols may come as the `protocols` option.
  if (protocols === undefined && options !== null && typeof options === 'object')
    protocols = (options as { protocols?: unknown }).protocols;
  const target = parseTarget(address);
  const list = parseProtocols(protocols);
  const settings = readOptions(options);
  ws._isServer = false;
  ws._url = target.url.href;
  const handshake = new Handshake(ws, target, list, settings);
  ws._abortHandshake = (message) => handshake.abort(message);
  try {
    handshake.send();
  } catch (error) {
    handshake.dispose();
    throw error;
  }
}

function connectPlain(options: ClientRequestArgs): Duplex {
  if (options.socketPath) return netConnect({ ...options, path: options.socketPath } as NetConnectOpts);
  return netConnect({ ...options, path: undefined } as NetConnectOpts);
}

function connectTls(options: ClientRequestArgs): Duplex {
  return tlsConnect({ ...(options as TlsConnectionOptions), path: undefined } as TlsConnectionOptions);
}

function ignore(): void {}
