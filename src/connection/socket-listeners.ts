// The socket's listeners, shared by every connection (no closures per connection): they find their
// WebSocket through a symbol on the socket and hand it what the socket reports (bytes, the peer's end, the
// close, a drain that a pending pong waits for, an error).
import type { Duplex } from 'node:stream';
import { connectionClock } from './clock.js';
import type { WebSocket } from './websocket.js';

const OPEN = 1;
const CLOSING = 2;
const kSocketOwner = Symbol('wavecast.websocket');

/** A socket a connection has taken over. */
export type OwnedSocket = Duplex & { [kSocketOwner]?: WebSocket | undefined };

/** Takes `socket` over for `ws`: listens to it, puts `head` (bytes after the handshake) back, starts reading. */
export function adoptSocket(ws: WebSocket, socket: Duplex, head: Buffer): OwnedSocket {
  const owned = socket as OwnedSocket;
  owned[kSocketOwner] = ws;
  const net = socket as Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void; timeout?: number };
  // An inactivity timeout set on the socket before (a node:http server's `timeout`) is cleared; a socket
  // that has none is left alone (setTimeout(0) would still add a property to it).
  if (net.timeout) net.setTimeout?.(0);
  net.setNoDelay?.(true);
  if (head.length > 0) socket.unshift(head);
  socket.on('data', socketOnData);
  // The peer's FIN: a socket that may stay half-open (a node:http server's) must be ended by us. One
  // that may not (net's default: our own server's, the client's) is ended by Node itself, and a
  // listener of ours would only cost each connection an array in the socket's listener table.
  if ((socket as Duplex & { allowHalfOpen?: boolean }).allowHalfOpen !== false) socket.on('end', socketOnEnd);
  socket.on('close', socketOnClose);
  socket.on('error', socketOnError);
  // A server that read the handshake itself may have paused the socket meanwhile.
  socket.resume();
  return owned;
}

/** Nothing more the socket reads is handed to the connection (it has closed). */
export function stopListening(socket: Duplex): void {
  socket.removeListener('data', socketOnData);
  socket.removeListener('end', socketOnEnd);
}

/**
 * The latest ping of each connection whose peer does not read what it is sent, answered once its socket
 * drains: rare, so kept here rather than in a field of every connection (weakly: a connection that closes
 * first takes its entry with it).
 */
const pendingPongs = new WeakMap<WebSocket, Buffer>();

/** Answers `data`, the connection's latest ping, once its socket drains (a later ping replaces it). */
export function pongOnDrain(ws: WebSocket, socket: Duplex, data: Buffer): void {
  if (!pendingPongs.has(ws)) socket.once('drain', socketOnDrain);
  pendingPongs.set(ws, data);
}

function socketOnData(this: OwnedSocket, chunk: Buffer): void {
  const ws = this[kSocketOwner]!;
  // The peer is alive: what the heartbeat reads (an answer to its ping or anything else).
  ws._lastSeen = connectionClock();
  ws._awaitingPong = false;
  (ws._link ?? ws._ensureLink()).push(chunk);
}

function socketOnEnd(this: OwnedSocket): void {
  const ws = this[kSocketOwner]!;
  if (ws._readyState === OPEN) ws._readyState = CLOSING;
  const machine = ws._ensureMachine();
  machine.stop();
  // What the peer sent before its end may still wait (behind an inflation): its close frame among it,
  // which is answered before our side ends.
  if (machine.waiting) ws._peerEnded = true;
  else ws._endSocket();
}

function socketOnClose(this: OwnedSocket): void {
  this[kSocketOwner]!._socketClosed();
}

function socketOnDrain(this: OwnedSocket): void {
  const ws = this[kSocketOwner]!;
  const data = pendingPongs.get(ws);
  pendingPongs.delete(ws);
  if (data !== undefined && ws._readyState === OPEN) ws.pong(data, !ws._isServer);
}

function socketOnError(this: OwnedSocket): void {
  // A reset or a write after the peer left: the connection is over; 'close' follows and reports 1006.
  this.destroy();
}

/** @internal Whether a connection has taken `socket` over (handleUpgrade() was called with it before). */
export function isConnectionSocket(socket: Duplex): boolean {
  return (socket as OwnedSocket)[kSocketOwner] !== undefined;
}

/**
 * @internal Gives a socket just accepted by a server of ours the field its connection will be found
 * through, empty, before node:http adds its own: every socket of the server then has it in the same place,
 * and V8, which sizes a kind of object from the first ones made, keeps room for it in the socket itself
 * when they come early in the process (else, added after node:http's fields, it costs a separate 40-byte
 * property store per connection).
 */
export function reserveSocketOwner(socket: Duplex): void {
  (socket as OwnedSocket)[kSocketOwner] = undefined;
}
