// The opening handshake request (RFC 6455 4.1) as data: its headers, and what a redirect may carry on.
// Pure functions; connect.ts turns them into an http.request.
import type { OutgoingHttpHeaders } from 'node:http';
import { sameHost, type Target } from './url.js';

/** Headers that carry credentials or name the host: never sent on to another host after a redirect. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'host']);

/** The handshake's own headers: a user's header of the same name (in any case) is replaced. */
const HANDSHAKE_HEADERS = new Set([
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
    headers.Authorization = `Basic ${Buffer.from(parts.auth).toString('base64')}`;
  }
  headers['Sec-WebSocket-Version'] = String(parts.protocolVersion);
  headers['Sec-WebSocket-Key'] = parts.key;
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  if (parts.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = parts.protocols.join(', ');
  if (parts.extensions !== undefined) headers['Sec-WebSocket-Extensions'] = parts.extensions;
  return headers;
}

/**
 * Whether credentials (the Authorization and Cookie headers, user:password from the URL) may be sent
 * to `next` after a redirect from `original`: only to the same host, and never from wss: down to ws:.
 */
export function mayCarryCredentials(original: Target, next: Target): boolean {
  return sameHost(original, next) && (next.secure || !original.secure);
}

/** The user's headers without those that carry credentials or name the original host. */
export function withoutCredentials(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!CREDENTIAL_HEADERS.has(name.toLowerCase())) out[name] = value;
  return out;
}

function hasHeader(headers: OutgoingHttpHeaders, lowerName: string): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase() === lowerName);
}

function removeHeader(headers: OutgoingHttpHeaders, lowerName: string): void {
  for (const name of Object.keys(headers)) if (name.toLowerCase() === lowerName) delete headers[name];
}
