// Who may use the relay: the bearer token (on WebSocket upgrades and on HTTP endpoints that need it) and
// the origin allow-list (for upgrades and HTTP publishes from browser pages). The relay's own chat page
// is always allowed: a page served from an address the relay was started with (the one it listens on,
// its loopback names, its --public-url). Not any page whose origin names the Host it connects to: with
// DNS rebinding, a hostile page's own name points at the relay, and its Origin and Host then agree.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import { OriginList } from '../server/admission.js';

export interface Denial {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface AccessOptions {
  /** The bearer token clients must present (none: no token needed). */
  token?: string | undefined;
  /** Origins of pages that may connect ('*' for any; none or empty: any). */
  origins?: readonly string[];
}

export class Access {
  private readonly _digest: Buffer | null;
  private readonly _listed: readonly string[];
  private _origins: OriginList | null;

  constructor(options: AccessOptions) {
    this._digest = options.token !== undefined && options.token !== '' ? digest(options.token) : null;
    this._listed = options.origins ?? [];
    this._origins = this._listed.length > 0 ? new OriginList(this._listed) : null;
  }

  /** The relay's own origins (see ownOrigins), allowed besides the list once the relay listens. */
  allowOwnOrigins(origins: readonly string[]): void {
    if (this._origins !== null) this._origins = new OriginList([...this._listed, ...origins]);
  }

  get tokenRequired(): boolean {
    return this._digest !== null;
  }

  /**
   * Null when the request carries the token (or none is needed), else a 401. The token is read from
   * `Authorization: Bearer …`, or, when `fromQuery` (browsers cannot set headers on a WebSocket or a
   * plain link), from the `token` query parameter.
   */
  checkToken(request: IncomingMessage, fromQuery: boolean): Denial | null {
    if (this._digest === null) return null;
    const presented = bearerToken(request) ?? (fromQuery ? queryToken(request.url) : undefined);
    if (presented !== undefined && timingSafeEqual(digest(presented), this._digest)) return null;
    const body =
      presented === undefined
        ? 'A token is required: send "Authorization: Bearer <token>"' + (fromQuery ? ' or add ?token=<token> to the URL' : '')
        : 'The token is not valid';
    return { status: 401, body, headers: { 'WWW-Authenticate': 'Bearer realm="wavecast"' } };
  }

  /** Null when the request's Origin (if any) may use the relay, else a 403. */
  checkOrigin(request: IncomingMessage): Denial | null {
    if (this._origins === null) return null;
    const refusal = this._origins.check(header(request, 'origin'));
    return refusal === null ? null : { status: refusal.status, body: refusal.body };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearerToken(request: IncomingMessage): string | undefined {
  const value = header(request, 'authorization');
  if (value === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return match ? match[1] : undefined;
}

function queryToken(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const query = target.indexOf('?');
  if (query === -1) return undefined;
  return new URLSearchParams(target.slice(query + 1)).get('token') ?? undefined;
}

/**
 * The origins of the relay's own pages: `scheme://host:port` for the host it was started with, every
 * loopback name when that host is one (localhost, 127.0.0.1, [::1]), every address of the machine when
 * it listens on all of them (0.0.0.0, ::), and the origins of `publicUrls` (the names it is reached by
 * behind a proxy). A DNS name not among them is not the relay's, whatever it resolves to.
 */
export function ownOrigins(scheme: 'http' | 'https', host: string, port: number, publicUrls: readonly string[] = []): string[] {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const hosts = new Set<string>();
  const loopback = ['localhost', '127.0.0.1', '::1'];
  if (bare === '0.0.0.0' || bare === '::' || bare === '') {
    for (const name of loopback) hosts.add(name);
    for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) hosts.add(entry.address);
  } else if (loopback.includes(bare.toLowerCase()) || /^127\./.test(bare)) {
    for (const name of loopback) hosts.add(name);
    hosts.add(bare);
  } else {
    hosts.add(bare);
  }
  const origins = new Set<string>();
  for (const name of hosts) {
    const literal = name.includes(':') ? `[${name.split('%')[0]}]` : name;
    try {
      origins.add(new URL(`${scheme}://${literal}:${port}`).origin);
    } catch {
      // not a name a URL can hold: no page can have it as its origin either
    }
  }
  for (const url of publicUrls) origins.add(new URL(url).origin);
  return [...origins];
}
