// The server behind `new WebSocketServer({ port })`. Every connection to it is a WebSocket to be, so it
// does not need node:http's general server (keep-alive, bodies, a parser lent to each connection, and
// wrappers and fields it leaves on every socket for the connection's whole life): it reads one request
// head, checks its grammar, and hands the upgrade on with a real http.IncomingMessage, as node:http would.
// A request that is not an upgrade is answered 426 (as `ws`'s node:http server does); a malformed head
// 400; one past maxHeaderSize 431.
import { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorResponse, hasToken } from '../protocol/handshake.js';
import { HEAD_END, headersOf, parseRequestHead } from '../protocol/request-head.js';

/** node:http's default limit on a request head. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

export function createUpgradeServer(maxHeaderSize: number, onUpgrade: UpgradeHandler): Server {
  return createServer((socket) => readHead(socket, maxHeaderSize, onUpgrade));
}

const EMPTY = Buffer.alloc(0);

function readHead(socket: Socket, maxHeaderSize: number, onUpgrade: UpgradeHandler): void {
  // What came so far, as a list of chunks (a head that trickles in a byte at a time is not copied again
  // for every byte), and its last three bytes, since the blank line may straddle two chunks.
  const chunks: Buffer[] = [];
  let length = 0;
  let recent: Buffer = EMPTY;
  const onData = (chunk: Buffer): void => {
    let end = -1;
    if (recent.length > 0) {
      const across = Buffer.concat([recent, chunk.subarray(0, 3)]).indexOf(HEAD_END);
      if (across !== -1) end = across - recent.length;
    }
    if (end === -1) end = chunk.indexOf(HEAD_END);
    if (end === -1) {
      chunks.push(chunk);
      length += chunk.length;
      recent = chunk.length >= 3 ? chunk.subarray(chunk.length - 3) : Buffer.concat([recent, chunk]).subarray(-3);
      if (length > maxHeaderSize) refuse(socket, onData, 431);
      return;
    }
    if (length + end > maxHeaderSize) {
      refuse(socket, onData, 431);
      return;
    }
    socket.removeListener('data', onData);
    // Bytes after the head wait in the socket until the connection reads them (it resumes the socket).
    socket.pause();
    chunks.push(chunk);
    const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, length + chunk.length);
    const headEnd = length + end;
    const parsed = parseRequestHead(all.toString('latin1', 0, headEnd));
    if (!parsed.ok) {
      abortHandshake(socket, 400, parsed.message);
      return;
    }
    const { head } = parsed;
    const req = new IncomingMessage(socket);
    req.method = head.method;
    req.url = head.url;
    req.httpVersionMajor = head.versionMajor;
    req.httpVersionMinor = head.versionMinor;
    req.httpVersion = `${head.versionMajor}.${head.versionMinor}`;
    req.rawHeaders = head.rawHeaders;
    req.headers = headersOf(head.rawHeaders);
    req.complete = true;
    req.push(null);
    // As node:http decides (and so `ws`'s server): an upgrade needs both Upgrade and Connection: upgrade.
    if (req.headers.upgrade === undefined || !hasToken(req.headers.connection, 'upgrade')) {
      abortHandshake(socket, 426, undefined, { Upgrade: 'websocket' });
      return;
    }
    (req as IncomingMessage & { upgrade: boolean }).upgrade = true;
    // The upgrade's own handling listens for errors from here (a refusal above still has this one).
    socket.removeListener('error', destroyOnError);
    onUpgrade(req, socket, all.subarray(headEnd + HEAD_END.length));
  };
  socket.on('data', onData);
  socket.on('error', destroyOnError);
}

/** A head too large to read: nothing more of it is read, and the request is answered. */
function refuse(socket: Socket, onData: (chunk: Buffer) => void, status: number): void {
  socket.removeListener('data', onData);
  abortHandshake(socket, status);
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
