// The EventEmitter methods of a WebSocket typed with its events, as `@types/ws` types them, so that code
// written against those types compiles unchanged: `ws.on('message', (data, isBinary) => ...)` knows its
// arguments. Types only; the WebSocket interface extends this (see websocket.ts).
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RawData } from './websocket.js';

type Close<Self> = (this: Self, code: number, reason: Buffer) => void;
type Failure<Self> = (this: Self, error: Error) => void;
type Upgrade<Self> = (this: Self, response: IncomingMessage) => void;
type Message<Self> = (this: Self, data: RawData, isBinary: boolean) => void;
type Open<Self> = (this: Self) => void;
type PingPong<Self> = (this: Self, data: Buffer) => void;
type Redirect<Self> = (this: Self, url: string, request: ClientRequest) => void;
type Unexpected<Self> = (this: Self, request: ClientRequest, response: IncomingMessage) => void;
type Other<Self> = (this: Self, ...args: any[]) => void;

export interface WebSocketEventMethods<Self, Return> {
  on(event: 'close', listener: Close<Self>): Return;
  on(event: 'error', listener: Failure<Self>): Return;
  on(event: 'upgrade', listener: Upgrade<Self>): Return;
  on(event: 'message', listener: Message<Self>): Return;
  on(event: 'open', listener: Open<Self>): Return;
  on(event: 'ping' | 'pong', listener: PingPong<Self>): Return;
  on(event: 'redirect', listener: Redirect<Self>): Return;
  on(event: 'unexpected-response', listener: Unexpected<Self>): Return;
  on(event: string | symbol, listener: Other<Self>): Return;

  once(event: 'close', listener: Close<Self>): Return;
  once(event: 'error', listener: Failure<Self>): Return;
  once(event: 'upgrade', listener: Upgrade<Self>): Return;
  once(event: 'message', listener: Message<Self>): Return;
  once(event: 'open', listener: Open<Self>): Return;
  once(event: 'ping' | 'pong', listener: PingPong<Self>): Return;
  once(event: 'redirect', listener: Redirect<Self>): Return;
  once(event: 'unexpected-response', listener: Unexpected<Self>): Return;
  once(event: string | symbol, listener: Other<Self>): Return;

  off(event: 'close', listener: Close<Self>): Return;
  off(event: 'error', listener: Failure<Self>): Return;
  off(event: 'upgrade', listener: Upgrade<Self>): Return;
  off(event: 'message', listener: Message<Self>): Return;
  off(event: 'open', listener: Open<Self>): Return;
  off(event: 'ping' | 'pong', listener: PingPong<Self>): Return;
  off(event: 'redirect', listener: Redirect<Self>): Return;
  off(event: 'unexpected-response', listener: Unexpected<Self>): Return;
  off(event: string | symbol, listener: Other<Self>): Return;

  addListener(event: 'close', listener: Close<Self>): Return;
  addListener(event: 'error', listener: Failure<Self>): Return;
  addListener(event: 'upgrade', listener: Upgrade<Self>): Return;
  addListener(event: 'message', listener: Message<Self>): Return;
  addListener(event: 'open', listener: Open<Self>): Return;
  addListener(event: 'ping' | 'pong', listener: PingPong<Self>): Return;
  addListener(event: 'redirect', listener: Redirect<Self>): Return;
  addListener(event: 'unexpected-response', listener: Unexpected<Self>): Return;
  addListener(event: string | symbol, listener: Other<Self>): Return;

  removeListener(event: 'close', listener: Close<Self>): Return;
  removeListener(event: 'error', listener: Failure<Self>): Return;
  removeListener(event: 'upgrade', listener: Upgrade<Self>): Return;
  removeListener(event: 'message', listener: Message<Self>): Return;
  removeListener(event: 'open', listener: Open<Self>): Return;
  removeListener(event: 'ping' | 'pong', listener: PingPong<Self>): Return;
  removeListener(event: 'redirect', listener: Redirect<Self>): Return;
  removeListener(event: 'unexpected-response', listener: Unexpected<Self>): Return;
  removeListener(event: string | symbol, listener: Other<Self>): Return;
}
