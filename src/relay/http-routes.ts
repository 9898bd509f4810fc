// The relay's plain HTTP side: the chat page, health, metrics, a channel's presence, and publishing to a
// channel from a backend and reading its history. Every answer is a complete response with a readable body; no request can
// crash the process or make it buffer more than maxPayload bytes.
//
// What one connection can make the relay hold is bounded by that connection's pace: its requests are
// handled one at a time, each only once the answers before it have been taken by the socket (all but
// its high-water mark); requests pipelined meanwhile wait, unread ones stay in the kernel (the socket
// stops reading), and a connection with more than MAX_PIPELINED waiting is cut. A history read is
// written as the socket takes it, not built whole.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { isDenial, type Access, type Denial } from './access.js';
import { decodeChannel } from './channel.js';
import type { HistoryRead, StoredMessage } from './history.js';
import type { Logger } from './log.js';
import type { Published } from './relay.js';
import type { PageAssets } from './page-assets.js';

export interface HttpRoutesOptions {
  access: Access;
  /** Largest body POST /channels/<name>/messages accepts, in bytes (413 beyond it). */
  maxPayload: number;
  page: PageAssets;
  log: Logger;
  /**
   * Publishes a message to a channel: its sequence number and how many connections it was written to.
   * `from`: the user id of the client that published it (none from a backend).
   */
  publish(channel: string, data: Buffer, binary: boolean, from?: string): Published | Promise<Published>;
  /**
   * Counts a publish against its client's rate limit: 0 if it may go on, else the seconds until the
   * client may publish again (answered 429 with Retry-After).
   */
  admitPublish?(request: IncomingMessage): number;
  /** The channel's history after `since`. */
  readHistory(channel: string, since: number): HistoryRead | Promise<HistoryRead>;
  /** The history's epoch. */
  epoch(): string;
  subscriberCount(channel: string): number;
  /** The Prometheus text exposition. */
  metrics(): string;
  /** Whether the relay is shutting down (health answers 503). */
  closing(): boolean;
  /** In a cluster: the broker and the state of the link to it (for /healthz). */
  broker?: () => { name: string; state: string };
  /** The server API under /api/ (none: /api/ answers 404, saying how to turn it on). */
  api?: RequestHandler;
}

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export const PAGE_SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};

const MESSAGES_SUFFIX = '/messages';
const CHANNELS_PREFIX = '/channels/';

/** Most requests of one connection waiting for the answers before theirs to be taken; past it the connection is cut. */
export const MAX_PIPELINED = 16;
/** Bytes of a history answer written at a time (the next piece once the socket has taken this one). */
const HISTORY_PIECE = 64 * 1024;

/** One connection's requests: whether one is being answered, and those waiting for it. */
interface Turns {
  busy: boolean;
  waiting: Array<() => void>;
}

export function createRequestHandler(options: HttpRoutesOptions): RequestHandler {
  return (request, response) => {
    request.on('error', () => response.destroy());
    try {
      route(options, request, response);
    } catch (error) {
      options.log.error('HTTP request failed', { method: request.method, url: request.url, error: String(error) });
      if (!response.headersSent) send(response, 500, 'Internal Server Error\n');
      else response.destroy();
    }
  };
}

/**
 * Wraps a request handler so that each connection's requests are handled one at a time, each once the
 * socket has taken the answers before it (all but its high-water mark): requests pipelined meanwhile
 * wait, the socket stops reading, and a connection with more than MAX_PIPELINED waiting is cut.
 */
export function oneAtATime(handler: RequestHandler, log: Logger): RequestHandler {
  const turns = new WeakMap<Socket, Turns>();
  return (request, response) => {
    const socket = request.socket;
    let queue = turns.get(socket);
    if (queue === undefined) {
      queue = { busy: false, waiting: [] };
      turns.set(socket, queue);
    }
    const turn = queue;
    const run = () => {
      turn.busy = true;
      let done = false;
      const next = () => {
        if (done) return;
        done = true;
        // Once the socket has taken the answer (all but its high-water mark), the next request's turn.
        if (!socket.destroyed && socket.writableNeedDrain) socket.once('drain', release);
        else release();
      };
      response.once('finish', next);
      response.once('close', next);
      handler(request, response);
    };
    const release = () => {
      turn.busy = false;
      const waiting = turn.waiting.shift();
      if (waiting !== undefined) waiting();
      else if (!socket.destroyed && socket.isPaused()) socket.resume();
    };
    if (!turn.busy) return run();
    if (turn.waiting.length >= MAX_PIPELINED) {
      log.warn('HTTP connection cut: too many pipelined requests waiting for their answers', {
        peer: socket.remoteAddress,
        waiting: turn.waiting.length,
      });
      socket.destroy();
      return;
    }
    turn.waiting.push(run);
    // Read no more of its requests until their turn comes.
    socket.pause();
  };
}

/** Answers 500 (or cuts the connection) if an asynchronous route fails, as createRequestHandler does for the others. */
export function settle(options: { log: Logger }, request: IncomingMessage, response: ServerResponse, handled: Promise<void>): void {
  handled.catch((error: unknown) => {
    options.log.error('HTTP request failed', { method: request.method, url: request.url, error: String(error) });
    if (!response.headersSent) send(response, 500, 'Internal Server Error\n');
    else response.destroy();
  });
}

function route(options: HttpRoutesOptions, request: IncomingMessage, response: ServerResponse): void {
  const target = request.url ?? '/';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  const method = request.method ?? 'GET';
  const readOnly = method === 'GET' || method === 'HEAD';

  if (
    path.startsWith(CHANNELS_PREFIX) &&
    path.endsWith(MESSAGES_SUFFIX) &&
    path.length >= CHANNELS_PREFIX.length + MESSAGES_SUFFIX.length
  ) {
    if (readOnly)
      return settle(
        options,
        request,
        response,
        history(options, request, response, path.slice(CHANNELS_PREFIX.length, -MESSAGES_SUFFIX.length), target.slice(path.length)),
      );
    if (method !== 'POST')
      return send(response, 405, 'Publish to a channel with POST, read its history with GET\n', { Allow: 'GET, HEAD, POST' });
    return settle(
      options,
      request,
      response,
      publish(options, request, response, path.slice(CHANNELS_PREFIX.length, -MESSAGES_SUFFIX.length)),
    );
  }
  if (path.startsWith(CHANNELS_PREFIX)) {
    if (!readOnly) return send(response, 405, 'A channel is read with GET\n', { Allow: 'GET, HEAD' });
    return settle(options, request, response, presence(options, request, response, path.slice(CHANNELS_PREFIX.length)));
  }
  if (path === '/api' || path.startsWith('/api/')) {
    if (options.api !== undefined) return options.api(request, response);
    return send(response, 404, 'The server API is off: start the relay with --api-key KEY (see docs/auth.md)\n');
  }
  if (path === '/healthz') {
    if (!readOnly) return send(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    if (options.closing()) return send(response, 503, 'shutting down\n');
    const broker = options.broker?.();
    if (broker === undefined) return send(response, 200, 'ok\n');
    // Still 200 while the broker is away: local clients are served; publishes are refused meanwhile.
    return send(response, 200, `${broker.state === 'connected' ? 'ok' : 'degraded'}\nbroker: ${broker.name}: ${broker.state}\n`);
  }
  if (path === '/metrics') {
    if (!readOnly) return send(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    const denied = options.access.checkBackend(request);
    if (denied) return deny(response, denied);
    return send(response, 200, options.metrics(), { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  }
  const asset = options.page.get(path);
  if (asset !== undefined) {
    if (!readOnly) return send(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    const headers: Record<string, string> = { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' };
    return send(response, 200, asset.body, path === '/' ? { ...headers, ...PAGE_SECURITY_HEADERS } : headers);
  }
  if (path === '/favicon.ico') return send(response, 404, 'Not Found\n');
  if (!readOnly) return send(response, 404, `Nothing to ${method} at ${path}\n`);
  // Any other path is a WebSocket channel: say how to use it.
  const channel = decodeChannel(path.slice(1));
  const name = channel.ok ? channel.channel : path.slice(1);
  return send(
    response,
    426,
    `${path} is a WebSocket channel: connect to it with a WebSocket client, ` +
      `or open /?channel=${encodeURIComponent(name)} in a browser for the chat page.\n`,
    { Upgrade: 'websocket' },
  );
}

/** GET /channels/<name>: how many are connected to a channel (the chat page's "online" count). */
async function presence(options: HttpRoutesOptions, request: IncomingMessage, response: ServerResponse, encoded: string): Promise<void> {
  const channel = decodeChannel(encoded);
  const caller = await options.access.channelCaller(request, channel.ok ? channel.channel : null, 'subscribe');
  if (isDenial(caller)) return deny(response, caller);
  if (!channel.ok) return send(response, 400, channel.message + '\n');
  const body = JSON.stringify({ channel: channel.channel, online: options.subscriberCount(channel.channel) });
  send(response, 200, body + '\n', { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
}

/** POST /channels/<name>/messages: the body becomes one message on the channel. */
async function publish(options: HttpRoutesOptions, request: IncomingMessage, response: ServerResponse, encoded: string): Promise<void> {
  if (options.closing()) return refuseBody(response, { status: 503, body: 'The relay is shutting down' });
  const channel = decodeChannel(encoded);
  const denied = options.access.checkOrigin(request);
  if (denied) return refuseBody(response, denied);
  const caller = await options.access.channelCaller(request, channel.ok ? channel.channel : null, 'publish');
  if (isDenial(caller)) return refuseBody(response, caller);
  const wait = caller.backend ? 0 : (options.admitPublish?.(request) ?? 0);
  if (wait > 0) {
    const seconds = Math.ceil(wait);
    return refuseBody(response, {
      status: 429,
      body: `Too many publishes from this address: try again in ${seconds} s`,
      headers: { 'Retry-After': String(seconds) },
    });
  }
  if (!channel.ok) return refuseBody(response, { status: 400, body: channel.message });
  const from = caller.from;
  const kind = bodyKind(request.headers['content-type']);
  if (kind === 'unsupported-charset') {
    return refuseBody(response, {
      status: 415,
      body: 'Text must be UTF-8: send charset=utf-8, or send the body as binary (application/octet-stream)',
    });
  }
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > options.maxPayload) return refuseBody(response, tooLarge(options.maxPayload));
  // Only now is the body wanted (a client that sent "Expect: 100-continue" waits for this).
  if (request.headers.expect?.toLowerCase() === '100-continue') response.writeContinue();

  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  request.on('data', (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > options.maxPayload) {
      refused = true;
      chunks.length = 0;
      refuseBody(response, tooLarge(options.maxPayload));
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    if (refused || response.headersSent) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    const binary = kind === 'binary';
    if (!binary && !isUtf8(body)) {
      return send(response, 400, 'The body is not valid UTF-8 text; send binary data as application/octet-stream\n');
    }
    Promise.resolve(options.publish(channel.channel, body, binary, from)).then(
      ({ message, delivered }) => {
        if (options.log.enabled('debug'))
          options.log.debug('HTTP publish', { channel: channel.channel, bytes: body.length, binary, delivered, seq: message.seq });
        send(response, 200, JSON.stringify({ channel: channel.channel, seq: message.seq, delivered }) + '\n', {
          'Content-Type': 'application/json',
        });
      },
      (error: unknown) => {
        options.log.error('HTTP publish failed', { channel: channel.channel, error: String(error) });
        send(response, 503, 'The message could not be stored in the channel history; try again\n');
      },
    );
  });
}

/**
 * GET /channels/<name>/messages?since=SEQ: the messages kept after SEQ (default 0: all kept), as JSON;
 * `lost` names the range after SEQ that is no longer kept, so a backend knows it missed something.
 */
async function history(
  options: HttpRoutesOptions,
  request: IncomingMessage,
  response: ServerResponse,
  encoded: string,
  query: string,
): Promise<void> {
  const channel = decodeChannel(encoded);
  const caller = await options.access.channelCaller(request, channel.ok ? channel.channel : null, 'subscribe');
  if (isDenial(caller)) return deny(response, caller);
  if (!channel.ok) return send(response, 400, channel.message + '\n');
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const raw = params.get('since') ?? '0';
  // Any sequence number a channel can reach (a safe integer), as wavecast.v1's join accepts.
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    return send(response, 400, `since must be a sequence number (a whole number, 0 or more), not ${JSON.stringify(raw.slice(0, 32))}\n`);
  const since = Number(raw);
  Promise.resolve(options.readHistory(channel.channel, since)).then(
    (read) => {
      const head: Record<string, unknown> = { channel: channel.channel, epoch: options.epoch(), latest: read.latest };
      if (since > read.latest) head.reset = true;
      if (read.lost !== undefined) head.lost = read.lost;
      return streamHistory(request, response, head, read.messages).catch((error: unknown) => {
        options.log.error('history answer failed', { channel: channel.channel, error: String(error) });
        response.destroy();
      });
    },
    (error: unknown) => {
      options.log.error('history read failed', { channel: channel.channel, error: String(error) });
      send(response, 503, 'The channel history could not be read; try again\n');
    },
  );
}

/**
 * Writes a history answer (the JSON of `head` with `messages` last) as the socket takes it: a piece of
 * about HISTORY_PIECE bytes at a time, the next once the response has drained. Chunked, since its length
 * is not known before it is written.
 */
export async function streamHistory(
  request: IncomingMessage,
  response: ServerResponse,
  head: Record<string, unknown>,
  messages: readonly StoredMessage[],
): Promise<void> {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  let piece = JSON.stringify(head).slice(0, -1) + ',"messages":[';
  for (let i = 0; i < messages.length; i++) {
    piece += (i > 0 ? ',' : '') + JSON.stringify(historyItem(messages[i]!));
    if (piece.length < HISTORY_PIECE) continue;
    if (!response.write(piece)) {
      const drained = await new Promise<boolean>((resolve) => {
        const onDrain = () => done(true);
        const onClose = () => done(false);
        const done = (ok: boolean) => {
          response.off('drain', onDrain);
          response.off('close', onClose);
          resolve(ok);
        };
        response.on('drain', onDrain);
        response.on('close', onClose);
      });
      if (!drained) return;
    }
    piece = '';
  }
  response.end(piece + ']}\n');
}

function historyItem(m: StoredMessage): Record<string, unknown> {
  const item: Record<string, unknown> = m.binary
    ? { seq: m.seq, time: m.time, data: m.data.toString('base64'), binary: true }
    : { seq: m.seq, time: m.time, data: m.data.toString() };
  if (m.from !== undefined) item.from = m.from;
  return item;
}

type BodyKind = 'text' | 'binary' | 'unsupported-charset';

/** Text for text/* and JSON (UTF-8 only), binary for anything else or no Content-Type. */
export function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return 'binary';
  const [mime = '', ...params] = contentType.split(';').map((part) => part.trim().toLowerCase());
  const text = mime.startsWith('text/') || mime === 'application/json' || mime.endsWith('+json');
  if (!text) return 'binary';
  for (const param of params) {
    const [key, raw = ''] = param.split('=').map((part) => part.trim());
    // A parameter's value may be a token or a quoted string, the same value either way (RFC 9110 5.6.6).
    const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    if (key === 'charset' && !['utf-8', 'utf8', 'us-ascii'].includes(value)) return 'unsupported-charset';
  }
  return 'text';
}

function tooLarge(maxPayload: number): Denial {
  return { status: 413, body: `The message is larger than the relay's limit of ${maxPayload} bytes` };
}

export function deny(response: ServerResponse, denial: Denial): void {
  send(response, denial.status, denial.body + '\n', denial.headers);
}

/** Refuses a request whose body will not be read: the connection is closed after the answer. */
export function refuseBody(response: ServerResponse, denial: Denial): void {
  send(response, denial.status, denial.body + '\n', { ...denial.headers, Connection: 'close' });
}

export function send(response: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const buffer = typeof body === 'string' ? Buffer.from(body) : body;
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
    'Content-Length': buffer.length,
  });
  response.end(buffer);
}
