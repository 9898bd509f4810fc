// Who may use the relay: the bearer token (on WebSocket upgrades and on HTTP endpoints that need it) and
// the origin allow-list (for upgrades and HTTP publishes from browser pages). The relay's own chat page
// is always allowed: a page whose origin is the host it connects to.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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
  private readonly _origins: OriginList | null;

  constructor(options: AccessOptions) {
    this._digest = options.token !== undefined && options.token !== '' ? digest(options.token) : null;
    this._origins = options.origins !== undefined && options.origins.length > 0 ? new OriginList(options.origins) : null;
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
    const origin = header(request, 'origin');
    if (origin === undefined || sameOrigin(origin, header(request, 'host'))) return null;
    const refusal = this._origins.check(origin);
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

/** Whether a page of `origin` is served by the host the request went to (the relay's own page). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}
