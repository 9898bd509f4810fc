// Who may open a connection: the origin allow-list and the authentication hook, and how a refusal
// becomes an HTTP status and a body a person can read.
import type { IncomingMessage } from 'node:http';

/** What a refused upgrade is answered with. */
export interface Refusal {
  status: number;
  body: string;
  headers?: Record<string, string | number>;
}

/**
 * Throw (or reject with) this from `authenticate` to refuse an upgrade with a status and a body.
 * Any thrown value with a numeric `status` (or `statusCode`) from 400 to 599 works the same way.
 */
export class UpgradeRejection extends Error {
  readonly status: number;
  readonly headers: Record<string, string | number> | undefined;
  constructor(status: number, body?: string, headers?: Record<string, string | number>) {
    super(body ?? `Upgrade refused with ${status}`);
    this.name = 'UpgradeRejection';
    this.status = status;
    this.headers = headers;
  }
}

export interface AuthenticateInfo {
  origin: string | undefined;
  secure: boolean;
}

/**
 * Decides whether an upgrade may go ahead, possibly asynchronously. What it returns (or resolves with),
 * such as the user a token belongs to, is passed to the `connection` listener as its third argument.
 * Returning `false` refuses with 401; throwing an UpgradeRejection refuses with its status and body.
 */
export type AuthenticateHook = (request: IncomingMessage, info: AuthenticateInfo) => unknown;

/** Normalizes an origin for comparison: lower case, without a trailing slash. */
function normalizeOrigin(origin: string): string {
  const trimmed = origin.trim().toLowerCase();
  return trimmed.endsWith('/') ? trimmed.slice(0, -1) : trimmed;
}

/** @internal An allow-list of origins (`https://chat.example.com`), or `*` for any. */
export class OriginList {
  private readonly _allowed: Set<string>;
  private readonly _any: boolean;
  constructor(origins: readonly string[]) {
    this._allowed = new Set(origins.map(normalizeOrigin));
    this._any = this._allowed.has('*');
  }

  /**
   * Null when `origin` is allowed, otherwise the refusal. A request without an Origin header does not
   * come from a browser page, which is what the list protects, and is let through.
   */
  check(origin: string | undefined): Refusal | null {
    if (origin === undefined || this._any || this._allowed.has(normalizeOrigin(origin))) return null;
    return { status: 403, body: `Origin ${origin} is not allowed to open a WebSocket on this server` };
  }
}

/** Turns what an authenticate hook threw into a refusal; null when it is not a deliberate refusal. */
export function refusalOf(reason: unknown): Refusal | null {
  if (typeof reason !== 'object' || reason === null) return null;
  const r = reason as { status?: unknown; statusCode?: unknown; body?: unknown; message?: unknown; headers?: unknown };
  const status = typeof r.status === 'number' ? r.status : r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) return null;
  const body =
    typeof r.body === 'string' ? r.body : typeof r.message === 'string' && r.message !== '' ? r.message : `Upgrade refused with ${status}`;
  const refusal: Refusal = { status, body };
  if (typeof r.headers === 'object' && r.headers !== null) refusal.headers = r.headers as Record<string, string | number>;
  return refusal;
}

/**
 * Runs the hook and reports once: `refused` with the refusal (and the error when the hook failed by
 * accident, which is answered 500), or `accepted` with what the hook returned.
 */
export function runAuthenticate(
  hook: AuthenticateHook,
  request: IncomingMessage,
  info: AuthenticateInfo,
  accepted: (result: unknown) => void,
  refused: (refusal: Refusal, error?: unknown) => void,
): void {
  const onResult = (result: unknown) => {
    if (result === false) refused({ status: 401, body: 'Unauthorized' });
    else accepted(result);
  };
  const onError = (error: unknown) => {
    const refusal = refusalOf(error);
    if (refusal !== null) refused(refusal);
    else refused({ status: 500, body: 'Internal Server Error: the authentication hook failed' }, error);
  };
  let result: unknown;
  try {
    result = hook(request, info);
  } catch (error) {
    onError(error);
    return;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
    (result as PromiseLike<unknown>).then(onResult, onError);
  } else {
    onResult(result);
  }
}
