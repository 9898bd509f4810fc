// Wavecast against the `ws` package, behaviour by behaviour: a test writes one scenario with the `ws` API,
// `sameAsWs` runs it once with `ws` and once with Wavecast (the same module shape: `WebSocket`,
// `WebSocketServer`, `createWebSocketStream`), and fails if what a user sees differs. The scenario returns
// what a user would notice (events in order, codes, messages, data), so any difference shows in the diff.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import Ws, { WebSocketServer as WsServer, createWebSocketStream as wsStream } from 'ws';
import Wavecast, { WebSocketServer, createWebSocketStream } from '../../src/index.js';

/** One implementation, seen through the `ws` package's types. */
export interface Implementation {
  name: 'ws' | 'wavecast';
  WebSocket: typeof Ws;
  WebSocketServer: typeof WsServer;
  createWebSocketStream: typeof wsStream;
}

export const WS: Implementation = { name: 'ws', WebSocket: Ws, WebSocketServer: WsServer, createWebSocketStream: wsStream };
export const WAVECAST: Implementation = {
  name: 'wavecast',
  WebSocket: Wavecast as unknown as typeof Ws,
  WebSocketServer: WebSocketServer as unknown as typeof WsServer,
  createWebSocketStream: createWebSocketStream as unknown as typeof wsStream,
};

/**
 * Runs `scenario` with `ws`, then with Wavecast, and asserts that both give the same result (deeply
 * equal). Resolves with that result, for the test to check what it is.
 */
export async function sameAsWs<T>(scenario: (impl: Implementation) => Promise<T>): Promise<T> {
  const expected = await scenario(WS);
  const actual = await scenario(WAVECAST);
  assert.deepStrictEqual(actual, expected, 'Wavecast differs from ws (actual: Wavecast, expected: ws)');
  return expected;
}

/** What a socket did until 'close': its events in order, with what a user would look at in each. */
export type Trace = string[];

/** Records a socket's events (as short strings) until 'close'; resolves with them. Rejects after `timeoutMs`. */
export function trace(ws: Ws, timeoutMs = 5_000, extra: readonly string[] = []): Promise<Trace> {
  const seen: Trace = [];
  return new Promise<Trace>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'close' within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`)), timeoutMs);
    ws.on('open', () => seen.push('open'));
    ws.on('error', (error: Error & { code?: string }) => seen.push(describeError(error)));
    ws.on('message', (data: unknown, isBinary: boolean) => seen.push(`message ${isBinary ? 'binary' : 'text'} ${String(data)}`));
    for (const event of extra) ws.on(event, (...args: unknown[]) => seen.push(`${event} ${args.map(describeValue).join(' ')}`.trimEnd()));
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      seen.push(`close ${code} ${reason.toString()}`.trimEnd());
      resolve(seen);
    });
  });
}

/** An error as a user tells it apart: its class, its code when it has one, its message. */
export function describeError(error: Error & { code?: string }): string {
  return `error ${error.constructor.name}${error.code !== undefined ? ` ${error.code}` : ''}: ${error.message}`;
}

function describeValue(value: unknown): string {
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString());
  if (value instanceof Error) return describeError(value);
  if (typeof value === 'object' && value !== null) return value.constructor.name;
  return JSON.stringify(value);
}

/** A server of `impl` on 127.0.0.1 with a free port. */
export async function listening(
  impl: Implementation,
  options: Record<string, unknown> = {},
): Promise<{ wss: WsServer; port: number; url: string }> {
  const wss = new impl.WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** A client of `impl` connected to `wss`, with the server's side of the connection. */
export async function connected(
  impl: Implementation,
  wss: WsServer,
  url: string,
  options: Record<string, unknown> = {},
): Promise<{ client: Ws; peer: Ws; request: IncomingMessage }> {
  const accepted = new Promise<[Ws, IncomingMessage]>((resolve) =>
    wss.once('connection', (peer: Ws, request: IncomingMessage) => resolve([peer, request])),
  );
  const client = new impl.WebSocket(url, options);
  await new Promise<void>((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  const [peer, request] = await accepted;
  return { client, peer, request };
}

/**
 * Resolves once this process has read what had reached its sockets before the call: a message goes
 * round a second connection to `wss` (it can only come back through a poll of the event loop that also
 * saw every socket readable before it was sent), then one more turn passes, so every socket readable in
 * that poll has been read. For a test whose point is that a socket did NOT hand something out (a paused
 * one), or that needs bytes to have arrived at a socket that reads nothing: no timer guessing how long
 * "long enough" is, which a slow machine or a GC pause would break.
 */
export async function ioSettled(impl: Implementation, wss: WsServer, url: string): Promise<void> {
  const { client, peer } = await connected(impl, wss, url);
  const echoed = new Promise((resolve) => client.once('message', resolve));
  peer.send('settled');
  await echoed;
  await new Promise((resolve) => setImmediate(resolve));
  client.terminate();
}

/** Closes a server of `impl` and everything connected to it. */
export async function shutDown(wss: WsServer): Promise<void> {
  for (const client of wss.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/**
 * A server connection of `impl` over an in-memory Duplex instead of TCP (`handleUpgrade` in noServer mode),
 * so that a test decides exactly how the peer's bytes are cut into reads: each `feed(chunk)` is one read.
 * What the server writes is collected in `written`; when the server ends its side, so does the peer.
 */
export async function overDuplex(
  impl: Implementation,
  options: Record<string, unknown> = {},
  extraHeaders: Record<string, string> = {},
): Promise<{ ws: Ws; feed(chunk: Buffer): void; end(): void; written: Buffer[] }> {
  const wss = new impl.WebSocketServer({ noServer: true, ...options });
  const written: Buffer[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk);
      callback();
    },
    // The server ends its side: the peer (as a TCP peer would, after a closing handshake) ends its own.
    final(callback) {
      this.push(null);
      callback();
    },
  });
  const request = {
    method: 'GET',
    url: '/',
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...extraHeaders,
    },
    socket: {},
  } as unknown as IncomingMessage;
  const ws = await new Promise<Ws>((resolve) => wss.handleUpgrade(request, duplex, Buffer.alloc(0), resolve));
  return { ws, feed: (chunk) => duplex.push(chunk), end: () => duplex.push(null), written };
}
