// The client's options (the `ws` package's ClientOptions) and their checks. Options the client does not
// use itself (agent, family, localAddress, lookup, TLS options...) go to http.request / tls.connect as given.
import type { PerMessageDeflateOptions } from '../protocol/deflate.js';
import type { ClientRequest, OutgoingHttpHeaders } from 'node:http';
import { DEFAULT_MAX_BUFFERED_CHUNKS, type ConnectionOptions, type WebSocket } from '../connection/websocket.js';

export type { ClientOptions } from './client-options.js';

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 10;

export interface Settings {
  headers: OutgoingHttpHeaders;
  origin: string | undefined;
  protocolVersion: 8 | 13;
  handshakeTimeout: number;
  maxPayload: number;
  followRedirects: boolean;
  maxRedirects: number;
  perMessageDeflate: boolean | PerMessageDeflateOptions | undefined;
  skipUTF8Validation: boolean;
  autoPong: boolean;
  closeTimeout: number | undefined;
  finishRequest: ((request: ClientRequest, websocket: WebSocket) => void) | undefined;
  /** `user:password` from the auth option (credentials in the URL take precedence). */
  auth: string | undefined;
  /** How the connection reads and closes, once open. */
  connection: ConnectionOptions;
  /** What goes to http.request / tls.connect as given. */
  passThrough: Record<string, unknown>;
}

/** Options the client owns, or that the URL decides: never passed through. */
const OWN_KEYS = new Set([
  'headers',
  'origin',
  'protocolVersion',
  'handshakeTimeout',
  'maxPayload',
  'followRedirects',
  'maxRedirects',
  'perMessageDeflate',
  'skipUTF8Validation',
  'autoPong',
  'closeTimeout',
  'finishRequest',
  'generateMask',
  'allowSynchronousEvents',
  'maxFragments',
  'maxBufferedChunks',
  'maxPendingAutoPongs',
  'protocols',
  'host',
  'hostname',
  'port',
  'defaultPort',
  'path',
  'socketPath',
  'protocol',
  'method',
  'auth',
  'timeout',
  'setHost',
]);

/** Checks the options and fills in defaults. Throws a TypeError or RangeError naming a bad option. */
export function readOptions(options: unknown): Settings {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError('The options argument must be an object');
  }
  const o = (options ?? {}) as Record<string, unknown>;
  const protocolVersion = o.protocolVersion ?? 13;
  if (protocolVersion !== 13 && protocolVersion !== 8) {
    throw new RangeError(`Unsupported protocol version: ${String(protocolVersion)} (supported versions: 8, 13)`);
  }
  const headers = o.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new TypeError('The "headers" option must be an object');
  }
  if (o.origin !== undefined && typeof o.origin !== 'string') throw new TypeError('The "origin" option must be a string');
  if (o.auth !== undefined && o.auth !== null && typeof o.auth !== 'string')
    throw new TypeError('The "auth" option must be a string (user:password)');
  for (const name of ['createConnection', 'finishRequest', 'generateMask'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw new TypeError(`The "${name}" option must be a function`);
  }
  const perMessageDeflate = o.perMessageDeflate;
  if (
    perMessageDeflate !== undefined &&
    typeof perMessageDeflate !== 'boolean' &&
    (typeof perMessageDeflate !== 'object' || perMessageDeflate === null)
  ) {
    throw new TypeError('The "perMessageDeflate" option must be a boolean or an object');
  }
  const passThrough: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) if (!OWN_KEYS.has(key)) passThrough[key] = value;
  const maxPayload = count(o, 'maxPayload', DEFAULT_MAX_PAYLOAD);
  const skipUTF8Validation = flag(o, 'skipUTF8Validation', false);
  const autoPong = flag(o, 'autoPong', true);
  const closeTimeout = o.closeTimeout === undefined ? undefined : count(o, 'closeTimeout', 0);
  const connection: ConnectionOptions = {
    maxPayload,
    skipUTF8Validation,
    autoPong,
    allowSynchronousEvents: flag(o, 'allowSynchronousEvents', true),
    maxFragments: count(o, 'maxFragments', 0),
    maxBufferedChunks: count(o, 'maxBufferedChunks', DEFAULT_MAX_BUFFERED_CHUNKS),
    ...(closeTimeout !== undefined ? { closeTimeout } : {}),
    ...(o.generateMask !== undefined ? { generateMask: o.generateMask as (mask: Buffer) => void } : {}),
  };
  count(o, 'maxPendingAutoPongs', 0);
  return {
    headers: { ...(headers as OutgoingHttpHeaders) },
    origin: o.origin as string | undefined,
    protocolVersion,
    handshakeTimeout: count(o, 'handshakeTimeout', 0),
    maxPayload,
    followRedirects: flag(o, 'followRedirects', false),
    maxRedirects: count(o, 'maxRedirects', DEFAULT_MAX_REDIRECTS),
    perMessageDeflate: perMessageDeflate as Settings['perMessageDeflate'],
    skipUTF8Validation,
    autoPong,
    closeTimeout,
    finishRequest: o.finishRequest as Settings['finishRequest'],
    auth: typeof o.auth === 'string' ? o.auth : undefined,
    connection,
    passThrough,
  };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function count(o: Record<string, unknown>, name: string, fallback: number): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`The "${name}" option must be a non-negative finite number, got ${String(value)}`);
  }
  if (name.endsWith('Timeout') && value > MAX_TIMER_MS) {
    throw new RangeError(`The "${name}" option must be at most ${MAX_TIMER_MS} ms, got ${value}`);
  }
  return value;
}

function flag(o: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`The "${name}" option must be a boolean`);
  return value;
}
