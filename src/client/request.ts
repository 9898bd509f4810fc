// The opening handshake request (RFC 6455 4.1) as data: its headers, and what a redirect may carry on.
// Pure functions; connect.ts turns them into an http.request.
import type { OutgoingHttpHeaders } from 'node:http';
import { sameHost, type Target } from './url.js';

/** The handshake's own headers: a user's header of the same name (in any case) is replaced. */
export const HANDSHAKE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

export interface RequestParts {
  /** The user's headers (from the `headers` option). */
  userHeaders: OutgoingHttpHeaders;
  key: string;
  protocolVersion: 8 | 13;
  protocols: readonly string[];
  /** The Sec-WebSocket-Extensions offer, if any. */
  extensions: string | undefined;
  origin: string | undefined;
  /** `user:password` for Basic authentication, if it may be sent. */
  auth: string | undefined;
}

/** The request headers of an opening handshake. */
export function handshakeHeaders(parts: RequestParts): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(parts.userHeaders)) {
    if (value !== undefined && !HANDSHAKE_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  if (parts.origin !== undefined) {
    // Version 8 (hybi-08) named the header Sec-WebSocket-Origin.
    const originName = parts.protocolVersion === 8 ? 'sec-websocket-origin' : 'origin';
    removeHeader(headers, originName);
    headers[parts.protocolVersion === 8 ? 'Sec-WebSocket-Origin' : 'Origin'] = parts.origin;
  }
  if (parts.auth !== undefined && !hasHeader(headers, 'authorization')) {
    headers.Authorization = basicAuthorization(parts.auth);
  }
  headers['Sec-WebSocket-Version'] = String(parts.protocolVersion);
  headers['Sec-WebSocket-Key'] = parts.key;
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  if (parts.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = parts.protocols.join(',');
  if (parts.extensions !== undefined) headers['Sec-WebSocket-Extensions'] = parts.extensions;
  return headers;
}

/**
 * Whether a redirect from `original` to `next` drops the credentials (the Authorization and Cookie headers,
 * user:password), as `ws` and curl decide it when no 'redirect' listener decides: to another host (the
 * URL's host with its port, or another Unix socket), or from wss: down to ws:.
 */
export function dropsCredentials(original: Target, next: Target): boolean {
  return !sameHost(original, next) || (original.secure && !next.secure);
}

/**
 * The user's headers for the request to `next` in a chain of redirects from `original` (`carried`: their
 * names in lower case, as `ws` keeps them, with the first request's Authorization): without Authorization
 * and Cookie when the credentials are dropped, and without Host to another host.
 */
export function redirectHeaders(carried: OutgoingHttpHeaders, original: Target, next: Target): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...carried };
  if (!dropsCredentials(original, next)) return out;
  delete out.authorization;
  delete out.cookie;
  if (!sameHost(original, next)) delete out.host;
  return out;
}

/** `headers` with their names in lower case. */
export function lowerCaseNames(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** The Authorization value for `user:password`. */
export function basicAuthorization(auth: string): string {
  return `Basic ${Buffer.from(auth).toString('base64')}`;
}

function hasHeader(headers: OutgoingHttpHeaders, lowerName: string): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase() === lowerName);
}

function removeHeader(headers: OutgoingHttpHeaders, lowerName: string): void {
  for (const name of Object.keys(headers)) if (name.toLowerCase() === lowerName) delete headers[name];
}
