// Who a connection is and what it may do: the verified user (from a JWT, a connect proxy's answer, or
// nobody in particular for an open relay or one with a shared --token) and the channel and document
// patterns it may subscribe to, publish on, and read or write. Pure: no sockets, no timers.
import { MAX_STAMP_TEXT_BYTES } from '../cluster/wire.js';

/** Names and patterns: an exact name, or a pattern with "*" standing for any run of characters. */
export class Patterns {
  private readonly _exact = new Set<string>();
  private readonly _expression: RegExp | null;
  readonly all: boolean;

  constructor(readonly list: readonly string[]) {
    this.all = list.includes('*');
    const globs: string[] = [];
    for (const entry of list) {
      if (entry.includes('*')) globs.push(globSource(entry));
      else this._exact.add(entry);
    }
    this._expression = globs.length > 0 ? new RegExp(`^(?:${globs.join('|')})$`, 's') : null;
  }

  allows(name: string): boolean {
    return this.all || this._exact.has(name) || (this._expression?.test(name) ?? false);
  }
}

function globSource(pattern: string): string {
  return pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
}

const EVERYTHING = new Patterns(['*']);
const NOTHING = new Patterns([]);

export interface Identity {
  /** The verified user id (`sub`); null for an anonymous connection (open relay, shared --token). */
  user: string | null;
  /** The name others see in presence (the verified `name`, else the user id; "" when anonymous). */
  name: string;
  subscribe: Patterns;
  publish: Patterns;
  /** Documents the user may edit, and those it may only read (editing wins where both match). */
  docsWrite: Patterns;
  docsRead: Patterns;
  /** When the identity stops being valid (ms since the epoch); null: never. */
  expires: number | null;
  /** All the verified claims (for namespaces that grant by claim). */
  claims: Readonly<Record<string, unknown>>;
}

/** Whoever connects to an open relay (or one with a shared --token): may do everything, has no user id. */
export const ANONYMOUS: Identity = {
  user: null,
  name: '',
  subscribe: EVERYTHING,
  publish: EVERYTHING,
  docsWrite: EVERYTHING,
  docsRead: EVERYTHING,
  expires: null,
  claims: {},
};

/** Longest user id or name taken from a token or a backend's answer, in characters. */
export const MAX_USER_LENGTH = 128;
/** Most patterns in one permission list. */
export const MAX_PATTERNS = 256;

export type ClaimsResult = { ok: true; identity: Identity } | { ok: false; reason: string };

/**
 * The identity that verified claims describe (a JWT's payload or a connect proxy's JSON answer):
 * `sub` (required: the user id), `name`, `exp` (seconds), and the permission lists `subscribe`,
 * `publish` (channels) and `docs_write`, `docs_read` (documents). A missing list allows nothing.
 */
export function identityOfClaims(claims: Record<string, unknown>): ClaimsResult {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') return { ok: false, reason: 'The token has no "sub" (user id)' };
  // (The cluster's wire format carries a message's `from` in at most MAX_STAMP_TEXT_BYTES, 255 bytes.)
  if (sub.length > MAX_USER_LENGTH || Buffer.byteLength(sub) > MAX_STAMP_TEXT_BYTES || hasControl(sub))
    return { ok: false, reason: `"sub" must be at most ${MAX_USER_LENGTH} characters (255 bytes of UTF-8), without control characters` };
  let name = sub;
  if (claims.name !== undefined) {
    if (typeof claims.name !== 'string' || claims.name.length > MAX_USER_LENGTH || hasControl(claims.name)) {
      return { ok: false, reason: `"name" must be a string of at most ${MAX_USER_LENGTH} characters, without control characters` };
    }
    if (claims.name !== '') name = claims.name;
  }
  const lists: Record<string, Patterns> = {};
  for (const key of ['subscribe', 'publish', 'docs_write', 'docs_read']) {
    const value = claims[key];
    if (value === undefined) {
      lists[key] = NOTHING;
      continue;
    }
    if (!Array.isArray(value) || value.length > MAX_PATTERNS || !value.every((entry) => typeof entry === 'string')) {
      return { ok: false, reason: `"${key}" must be a list of at most ${MAX_PATTERNS} channel names or patterns (strings)` };
    }
    lists[key] = new Patterns(value as string[]);
  }
  let expires: number | null = null;
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return { ok: false, reason: '"exp" must be a number of seconds' };
    expires = claims.exp * 1000;
  }
  return {
    ok: true,
    identity: {
      user: sub,
      name,
      subscribe: lists.subscribe!,
      publish: lists.publish!,
      docsWrite: lists.docs_write!,
      docsRead: lists.docs_read!,
      expires,
      claims,
    },
  };
}

function hasControl(text: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(text);
}

/** Close codes the relay uses for identity (docs/auth.md lists them). */
export const CloseCodes = {
  /** The token's exp passed and no fresh one came (wavecast.v1: `auth` before exp). */
  TokenExpired: 4001,
  /** A wavecast.v1 connection that came without a token sent no valid `auth` in time. */
  AuthTimeout: 4002,
  /** The backend disconnected the user (server API). */
  Disconnected: 4003,
  /** The backend removed the user from the plain connection's channel (server API). */
  Removed: 4004,
} as const;
