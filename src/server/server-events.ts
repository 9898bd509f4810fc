// The EventEmitter methods of a WebSocketServer typed with its events (its sockets of the class it makes them with), as `@types/ws` types them (and the
// events beyond `ws`: 'drop', 'drain', 'authError'), so that code written against those types compiles
// unchanged. Types only; websocket-server.ts merges them into the class.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from '../connection/websocket.js';

type Connection<Self, Socket> = (this: Self, socket: Socket, request: IncomingMessage) => void;
type Failure<Self> = (this: Self, error: Error) => void;
type Headers<Self> = (this: Self, headers: string[], request: IncomingMessage) => void;
type Plain<Self> = (this: Self) => void;
type ClientError<Self> = (this: Self, error: Error, socket: Duplex, request: IncomingMessage) => void;
/** A slow client's message was dropped ('drop'), or its backlog is gone again ('drain'): with how many were dropped. */
type Backlog<Self, Socket> = (this: Self, socket: Socket, dropped: number) => void;
type AuthError<Self> = (this: Self, error: unknown, request: IncomingMessage) => void;
type Other<Self> = (this: Self, ...args: any[]) => void;

export interface ServerEventMethods<Self, Return, Socket extends WebSocket = WebSocket> {
  on(event: 'connection', listener: Connection<Self, Socket>): Return;
  on(event: 'error', listener: Failure<Self>): Return;
  on(event: 'headers', listener: Headers<Self>): Return;
  on(event: 'close' | 'listening', listener: Plain<Self>): Return;
  on(event: 'wsClientError', listener: ClientError<Self>): Return;
  on(event: 'drop' | 'drain', listener: Backlog<Self, Socket>): Return;
  on(event: 'authError', listener: AuthError<Self>): Return;
  on(event: string | symbol, listener: Other<Self>): Return;

  once(event: 'connection', listener: Connection<Self, Socket>): Return;
  once(event: 'error', listener: Failure<Self>): Return;
  once(event: 'headers', listener: Headers<Self>): Return;
  once(event: 'close' | 'listening', listener: Plain<Self>): Return;
  once(event: 'wsClientError', listener: ClientError<Self>): Return;
  once(event: 'drop' | 'drain', listener: Backlog<Self, Socket>): Return;
  once(event: 'authError', listener: AuthError<Self>): Return;
  once(event: string | symbol, listener: Other<Self>): Return;

  off(event: 'connection', listener: Connection<Self, Socket>): Return;
  off(event: 'error', listener: Failure<Self>): Return;
  off(event: 'headers', listener: Headers<Self>): Return;
  off(event: 'close' | 'listening', listener: Plain<Self>): Return;
  off(event: 'wsClientError', listener: ClientError<Self>): Return;
  off(event: 'drop' | 'drain', listener: Backlog<Self, Socket>): Return;
  off(event: 'authError', listener: AuthError<Self>): Return;
  off(event: string | symbol, listener: Other<Self>): Return;

  addListener(event: 'connection', listener: Connection<Self, Socket>): Return;
  addListener(event: 'error', listener: Failure<Self>): Return;
  addListener(event: 'headers', listener: Headers<Self>): Return;
  addListener(event: 'close' | 'listening', listener: Plain<Self>): Return;
  addListener(event: 'wsClientError', listener: ClientError<Self>): Return;
  addListener(event: 'drop' | 'drain', listener: Backlog<Self, Socket>): Return;
  addListener(event: 'authError', listener: AuthError<Self>): Return;
  addListener(event: string | symbol, listener: Other<Self>): Return;

  removeListener(event: 'connection', listener: Connection<Self, Socket>): Return;
  removeListener(event: 'error', listener: Failure<Self>): Return;
  removeListener(event: 'headers', listener: Headers<Self>): Return;
  removeListener(event: 'close' | 'listening', listener: Plain<Self>): Return;
  removeListener(event: 'wsClientError', listener: ClientError<Self>): Return;
  removeListener(event: 'drop' | 'drain', listener: Backlog<Self, Socket>): Return;
  removeListener(event: 'authError', listener: AuthError<Self>): Return;
  removeListener(event: string | symbol, listener: Other<Self>): Return;
}
