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

const SCHEMES = '"ws:", "wss:", "http:", "https:" or "ws+unix:"';

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
    throw new SyntaxError(`Invalid URL ${url.href}: the scheme must be one of ${SCHEMES}`);
  }
  // `hash` is '' both without a fragment and with an empty one ("ws://h/#"); the browser refuses both
  // forms, and a raw '#' can only appear in the serialization as the fragment's start.
  if (url.href.includes('#')) {
    throw new SyntaxError(`Invalid URL ${url.href}: a WebSocket URL cannot contain a fragment identifier`);
  }

  const auth = url.username !== '' || url.password !== '' ? `${decode(url.username)}:${decode(url.password)}` : undefined;

  if (scheme === 'ws+unix:') {
    // ws+unix:/path/to.sock:/request/path — the socket path, then optionally ':' and the request path.
    const full = url.pathname + url.search;
    const colon = full.indexOf(':');
    const socketPath = decode(colon === -1 ? full : full.slice(0, colon));
    const path = colon === -1 ? '/' : full.slice(colon + 1) || '/';
    if (socketPath === '' || socketPath === '/') {
      throw new SyntaxError(`Invalid URL ${url.href}: a ws+unix: URL needs a socket path (ws+unix:/path/to.sock:/request/path)`);
    }
    return { url, secure: false, socketPath, host: 'localhost', port: 80, path: path.startsWith('/') ? path : `/${path}`, auth };
  }

  const secure = scheme === 'wss:';
  let host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new SyntaxError(`Invalid URL ${url.href}: the host is empty`);
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { url, secure, socketPath: undefined, host, port, path: (url.pathname || '/') + url.search, auth };
}

/** The TLS server name to send for a host: none for an IP address (RFC 6066 forbids it). */
export function serverNameFor(host: string): string {
  return isIP(host) === 0 ? host : '';
}

/** Whether two targets are the same origin server, as far as credentials are concerned. */
export function sameHost(a: Target, b: Target): boolean {
  if (a.socketPath !== undefined || b.socketPath !== undefined) return a.socketPath === b.socketPath;
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}

/**
 * The subprotocols argument of the constructor: a string or an array of distinct tokens (RFC 6455
 * 4.1). Anything else throws a SyntaxError, as in the browser.
 */
export function parseProtocols(protocols: unknown): string[] {
  if (protocols === undefined || protocols === null) return [];
  const list: unknown[] = typeof protocols === 'string' ? [protocols] : Array.isArray(protocols) ? protocols : [];
  if (typeof protocols !== 'string' && !Array.isArray(protocols)) {
    throw new SyntaxError('The subprotocols must be a string or an array of strings');
  }
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new SyntaxError(`Invalid subprotocol ${JSON.stringify(protocol)}: a subprotocol must be a non-empty token`);
    }
    if (seen.has(protocol)) throw new SyntaxError(`Duplicate subprotocol "${protocol}"`);
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
