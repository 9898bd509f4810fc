// Who may use the relay: the bearer token (on WebSocket upgrades and on HTTP endpoints that need it): a
// shared --token, or a JWT that names the user and its permissions (identify); and
// the origin allow-list (for upgrades and HTTP publishes from browser pages). The relay's own chat page
// is always allowed: a page served from an address the relay was started with (the one it listens on,
// its loopback names, its --public-url). Not any page whose origin names the Host it connects to: with
// DNS rebinding, a hostile page's own name points at the relay, and its Origin and Host then agree.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import { headerValue } from '../protocol/handshake.js';
import { OriginList } from '../server/admission.js';
import { ANONYMOUS, type Identity } from './identity.js';
import type { ConnectProxy } from './connect-proxy.js';
import type { JwtVerifier } from './jwt.js';
import { Namespaces } from './namespaces.js';

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
  /** Verifies JWT connection tokens (--jwt-secret, --jwt-key): then every connection is a verified user. */
  jwt?: JwtVerifier | undefined;
  /** Asks the backend who each request is (--auth-url): then every connection is a verified user. */
  proxy?: ConnectProxy | undefined;
  /** Channel namespaces (--config): who may subscribe and publish where. */
  namespaces?: Namespaces | undefined;
  /** The backends' key for the server API and /metrics (--api-key); never a client's token. */
  apiKey?: string | undefined;
}

/** Who an HTTP request on a channel comes from: a backend (the api key) or a client (its user id, if any). */
export type Caller = { backend: true; from?: undefined } | { backend: false; from: string | undefined };

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="wavecast"' };

export class Access {
  private readonly _digest: Buffer | null;
  private readonly _listed: readonly string[];
  private _origins: OriginList | null;
  private readonly _jwt: JwtVerifier | null;
  private readonly _apiKey: Buffer | null;
  private readonly _proxy: ConnectProxy | null;
  readonly namespaces: Namespaces;

  constructor(options: AccessOptions) {
    this.namespaces = options.namespaces ?? new Namespaces();
    this._proxy = options.proxy ?? null;
    this._jwt = options.jwt ?? null;
    this._apiKey = options.apiKey !== undefined && options.apiKey !== '' ? digest(options.apiKey) : null;
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

  /** Whether the relay was given an api key (the server API is on). */
  get apiKeySet(): boolean {
    return this._apiKey !== null;
  }

  /** Whether the request carries the api key (Authorization: Bearer <api key>). */
  isBackend(request: IncomingMessage): boolean {
    const presented = bearerToken(request);
    return this._apiKey !== null && presented !== undefined && timingSafeEqual(digest(presented), this._apiKey);
  }

  /**
   * For what only backends may use (/metrics, the server API): with an api key, that key and nothing
   * else (a client's token is refused); without one, the shared token's rule (checkToken).
   */
  checkBackend(request: IncomingMessage): Denial | null {
    if (this._apiKey === null) return this.checkToken(request, false);
    if (this.isBackend(request)) return null;
    return { status: 401, body: 'This needs the relay\'s api key: send "Authorization: Bearer <api key>"', headers: CHALLENGE };
  }

  /**
   * Who may use a channel over HTTP (publish on it, or read its history and presence): a backend with
   * the api key; with user tokens, a user whose token allows it (a 403 otherwise); else as checkToken.
   * `channel` null: a name that is not valid (its 400 comes after the token's check).
   */
  async channelCaller(request: IncomingMessage, channel: string | null, need: 'publish' | 'subscribe'): Promise<Caller | Denial> {
    if (this.isBackend(request)) return { backend: true };
    const identity = await this.identify(request, false);
    if (isDenial(identity)) return identity;
    const user = identity!;
    const refusal =
      channel === null
        ? null
        : need === 'publish'
          ? this.namespaces.publishRefusal(user, channel)
          : this.namespaces.subscribeRefusal(user, channel);
    if (refusal !== null) return { status: 403, body: refusal };
    return { backend: false, from: user.user ?? undefined };
  }

  /** Whether connections are verified users (JWT): then identify() never answers ANONYMOUS. */
  get usersRequired(): boolean {
    return this._jwt !== null || this._proxy !== null;
  }

  /**
   * Who the request is: with a connect proxy, whom the backend says; with JWTs, the user its token names (a 401 with the reason when it has none or
   * a bad one; null when it has none and `later` allows it to authenticate after the upgrade, as a
   * wavecast.v1 connection may with an `auth` envelope); else ANONYMOUS once the shared token (if any)
   * checks out. The token is read as in checkToken.
   */
  async identify(request: IncomingMessage, fromQuery: boolean, later = false): Promise<Identity | Denial | null> {
    if (this._proxy !== null) return this._proxy.identify(request);
    if (this._jwt === null) return this.checkToken(request, fromQuery) ?? ANONYMOUS;
    const presented = bearerToken(request) ?? (fromQuery ? queryToken(request.url) : undefined);
    if (presented === undefined) {
      if (later) return null;
      const where = 'send "Authorization: Bearer <token>"' + (fromQuery ? ' or add ?token=<token> to the URL' : '');
      return { status: 401, body: `A token is required: ${where}`, headers: CHALLENGE };
    }
    return this.verify(presented);
  }

  /** The user a JWT names, or a 401 saying why the token is refused. */
  async verify(token: string): Promise<Identity | Denial> {
    if (this._jwt === null) return { status: 401, body: 'This relay takes no user tokens' };
    const verified = await this._jwt.verify(token);
    return verified.ok ? verified.identity : { status: 401, body: verified.reason, headers: CHALLENGE };
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
    return { status: 401, body, headers: CHALLENGE };
  }

  /** Null when the request's Origin (if any) may use the relay, else a 403. */
  checkOrigin(request: IncomingMessage): Denial | null {
    if (this._origins === null) return null;
    const refusal = this._origins.check(headerValue(request, 'origin'));
    return refusal === null ? null : { status: refusal.status, body: refusal.body };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function bearerToken(request: IncomingMessage): string | undefined {
  const value = headerValue(request, 'authorization');
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

/** Whether a value is a Denial (rather than an identity). */
export function isDenial<T extends object>(value: T | Denial | null): value is Denial {
  return value !== null && typeof (value as Denial).status === 'number';
}
