// The client's options (the `ws` package's ClientOptions) and their checks. Options the client does not
// use itself (agent, family, localAddress, lookup, TLS options...) go to http.request / tls.connect as given.
import type { PerMessageDeflateOptions } from '../protocol/deflate.js';
import type { ClientRequest, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import type { ConnectionOptions as TlsConnectionOptions, SecureContextOptions } from 'node:tls';
import type { WebSocket } from '../connection/websocket.js';

export interface ClientOptions
  extends Pick<RequestOptions, 'agent' | 'createConnection' | 'localAddress' | 'localPort' | 'family' | 'lookup' | 'hints' | 'signal'>,
    SecureContextOptions,
    Pick<TlsConnectionOptions, 'servername' | 'rejectUnauthorized' | 'checkServerIdentity' | 'ALPNProtocols' | 'session' | 'minDHSize'> {
  /** Extra request headers. The handshake's own headers (Upgrade, Sec-WebSocket-*) cannot be replaced. */
  headers?: OutgoingHttpHeaders;
  /** The Origin header (Sec-WebSocket-Origin with protocolVersion 8). */
  origin?: string;
  /** Sec-WebSocket-Version: 13 (default) or 8. */
  protocolVersion?: 8 | 13;
  /** Fail the connection if the opening handshake has not completed within this many ms (per request). */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes (default 100 MiB; 0 for no limit); larger ones close with 1009. */
  maxPayload?: number;
  /** Follow 3xx redirects (default false). */
  followRedirects?: boolean;
  /** How many redirects to follow at most (default 10). */
  maxRedirects?: number;
  /** permessage-deflate: not offered until the deflate module registers itself (see extensions.ts). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  skipUTF8Validation?: boolean;
  /** Answer pings automatically (default true). */
  autoPong?: boolean;
  /** How long the closing handshake may take before the socket is destroyed (ms, default 30000). */
  closeTimeout?: number;
  /** Called instead of `request.end()` to send the opening handshake request. */
  finishRequest?: (request: ClientRequest, websocket: WebSocket) => void;
}

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
  for (const name of ['createConnection', 'finishRequest'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw new TypeError(`The "${name}" option must be a function`);
  }
  const perMessageDeflate = o.perMessageDeflate;
  if (perMessageDeflate !== undefined && typeof perMessageDeflate !== 'boolean' && (typeof perMessageDeflate !== 'object' || perMessageDeflate === null)) {
    throw new TypeError('The "perMessageDeflate" option must be a boolean or an object');
  }
  const passThrough: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) if (!OWN_KEYS.has(key)) passThrough[key] = value;
  return {
    headers: { ...(headers as OutgoingHttpHeaders) },
    origin: o.origin as string | undefined,
    protocolVersion,
    handshakeTimeout: count(o, 'handshakeTimeout', 0),
    maxPayload: count(o, 'maxPayload', DEFAULT_MAX_PAYLOAD),
    followRedirects: flag(o, 'followRedirects', false),
    maxRedirects: count(o, 'maxRedirects', DEFAULT_MAX_REDIRECTS),
    perMessageDeflate: perMessageDeflate as Settings['perMessageDeflate'],
    skipUTF8Validation: flag(o, 'skipUTF8Validation', false),
    autoPong: flag(o, 'autoPong', true),
    closeTimeout: o.closeTimeout === undefined ? undefined : count(o, 'closeTimeout', 0),
    finishRequest: o.finishRequest as Settings['finishRequest'],
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
