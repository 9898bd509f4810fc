// The address of an outbound connection: which URLs a client accepts (the browser's rules plus `ws`'s
// http:, https: and ws+unix: forms), what they mean for the HTTP request, and the subprotocol list.
// Pure functions: anything malformed throws a SyntaxError, as the browser's WebSocket constructor does.
import { isIP } from 'node:net';
import { isToken } from '../protocol/handshake.js';

export interface Target {
  /** The URL as the socket reports it (`url`): http: and https: become ws: and wss:. */
  url: URL;
  secure: boolean;
  /** For ws+unix: URLs, the Unix socket to connect to. */
  socketPath: string | undefined;
  /** Host name or IP address to connect to (IPv6 without brackets); 'localhost' for Unix sockets. */
  host: string;
  port: number;
  /** The request target: path and query. */
  path: string;
  /** `user:password` from the URL, percent-decoded, or undefined. */
  auth: string | undefined;
}

/**
 * Parses a WebSocket URL. Relative redirects are resolved against `base`. Throws a SyntaxError naming
 * what is wrong: an unparsable URL, another scheme, a fragment, or a ws+unix: URL without a socket path.
 */
export function parseTarget(address: string | URL, base?: URL): Target {
  let url: URL;
  try {
    url = new URL(address instanceof URL ? address.href : String(address), base);
  } catch {
    throw new SyntaxError(`Invalid URL: ${String(address)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';

  const scheme = url.protocol;
  if (scheme !== 'ws:' && scheme !== 'wss:' && scheme !== 'ws+unix:') {
    throw new SyntaxError('The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"');
  }
  // `hash` is '' both without a fragment and with an empty one ("ws://h/#"); the browser refuses both
  // forms, and a raw '#' can only appear in the serialization as the fragment's start.
  if (url.href.includes('#')) {
    throw new SyntaxError('The URL contains a fragment identifier');
  }

  const auth = url.username !== '' || url.password !== '' ? `${decode(url.username)}:${decode(url.password)}` : undefined;

  if (scheme === 'ws+unix:') {
    // ws+unix:/path/to.sock:/request/path — the socket path, then optionally ':' and the request path.
    const full = url.pathname + url.search;
    const colon = full.indexOf(':');
    const socketPath = decode(colon === -1 ? full : full.slice(0, colon));
    const path = colon === -1 ? '/' : full.slice(colon + 1) || '/';
    if (socketPath === '' || socketPath === '/') throw new SyntaxError("The URL's pathname is empty");
    return { url, secure: false, socketPath, host: 'localhost', port: 80, path: path.startsWith('/') ? path : `/${path}`, auth };
  }

  const secure = scheme === 'wss:';
  let host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { url, secure, socketPath: undefined, host, port, path: (url.pathname || '/') + url.search, auth };
}

/** The TLS server name to send for a host: none for an IP address (RFC 6066 forbids it). */
export function serverNameFor(host: string): string {
  return isIP(host) === 0 ? host : '';
}

/**
 * Whether two targets are the same server for credentials, as `ws` decides it: the same Unix socket, or the
 * same URL host (with its port when it is not the scheme's default, so ws://h and wss://h are the same
 * host, ws://h:80 and wss://h:80 are not).
 */
export function sameHost(a: Target, b: Target): boolean {
  if (a.socketPath !== undefined || b.socketPath !== undefined) return a.socketPath === b.socketPath;
  return a.url.host === b.url.host;
}

/**
 * The subprotocols, as `ws` reads the constructor's arguments: a string or an array of distinct tokens
 * (RFC 6455 4.1), or none. Anything else (null included) throws a SyntaxError, as in `ws`.
 */
export function parseProtocols(protocols: unknown): string[] {
  const list: unknown[] = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol) || seen.has(protocol)) {
      throw new SyntaxError('An invalid or duplicated subprotocol was specified');
    }
    seen.add(protocol);
  }
  return [...seen];
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
