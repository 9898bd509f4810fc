// The HTTP server behind `new WebSocketServer({ port })`: node:http's own, serving nothing but upgrades.
// A request that is not an upgrade is answered 426 and its connection closed (no keep-alive: there is
// nothing else to ask here); node:http's parser refuses a malformed head (400) and one past maxHeaderSize
// (431). Its request and header timeouts are off: the WebSocketServer's handshakeTimeout (sweep.ts) times
// every connection from accept, with one timer for the server. Also the one way a refused handshake is
// answered (abortHandshake).
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorResponse } from '../protocol/handshake.js';
import { reserveSocketOwner } from '../connection/websocket.js';

// As `ws`'s server answers it.
const NOT_AN_UPGRADE = STATUS_CODES[426]!;

/** An HTTP server for upgrades only; the caller listens for its 'upgrade' events. */
export function createUpgradeServer(maxHeaderSize: number | undefined): Server {
  const options: ServerOptions = { requestTimeout: 0, headersTimeout: 0 };
  if (maxHeaderSize !== undefined) options.maxHeaderSize = maxHeaderSize;
  const server = createServer(options, answerNotAnUpgrade);
  // Before node:http's own listener: the socket's connection field comes first (see reserveSocketOwner).
  server.prependListener('connection', reserveSocketOwner);
  server.on('clientError', answerClientError);
  return server;
}

function answerNotAnUpgrade(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, {
    Connection: 'close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(NOT_AN_UPGRADE),
    Upgrade: 'websocket',
  });
  response.end(NOT_AN_UPGRADE);
}

/**
 * A head node:http's parser refused (431 past maxHeaderSize, 400 otherwise), or a socket error before a
 * request was read. node:http keeps its own error listener on the socket from here, so a peer that resets
 * while we answer costs nothing.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET') socket.destroy();
  else abortHandshake(socket, error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400);
}

/** Answers a refused upgrade (or a request that is none) with an HTTP error and closes the socket. */
export function abortHandshake(socket: Duplex, status: number, message?: string, headers?: Record<string, string | number>): void {
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(errorResponse(status, message, headers));
  } else {
    socket.destroy();
  }
}

/** A socket error during a handshake: the socket is dropped ('close' follows). */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
