// The connect proxy (--auth-url): the backend decides who an upgrade is. The relay POSTs the upgrade's
// Cookie and Authorization headers (and the path it asked for) to the backend, which answers 200 with
// the user as JSON ({"user", "name", "subscribe", "publish", "docs_write", "docs_read", "exp"}), or
// refuses (401/403, its text passed on to the client). Bounded time and size: a backend that is slow,
// down or answers nonsense refuses the new connection with 503 (the relay cannot tell who it is, which
// is not the client's fault: it may try again); connections already open keep the identity they got
// when they connected (the answer is kept per connection, the backend asked once).
import type { IncomingMessage } from 'node:http';
import type { Denial } from './access.js';
import { identityOfClaims, type Identity } from './identity.js';
import type { Logger } from './log.js';

/** Largest answer read from the backend, in bytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Longest refusal text passed on to the client, in characters. */
const MAX_REASON = 300;

export interface ConnectProxySettings {
  url: string;
  /** ms */
  timeout: number;
}

export class ConnectProxy {
  constructor(
    private readonly _settings: ConnectProxySettings,
    private readonly _log: Logger,
  ) {}

  async identify(request: IncomingMessage): Promise<Identity | Denial> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    for (const name of ['cookie', 'authorization']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const path = (request.url ?? '/').split('?')[0];
    let response: Response;
    let text: string;
    try {
      response = await fetch(this._settings.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ path }),
        signal: AbortSignal.timeout(this._settings.timeout),
        redirect: 'error',
      });
      text = await readBounded(response);
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      this._log.warn(
        timedOut ? 'the auth backend did not answer in time: connection refused' : 'the auth backend cannot be reached: connection refused',
        { url: this._settings.url, error: String((error as Error).message ?? error) },
      );
      return unavailable(timedOut ? `did not answer within ${this._settings.timeout} ms` : 'cannot be reached');
    }
    if (response.status === 401 || response.status === 403) {
      const reason = text.trim().slice(0, MAX_REASON) || (response.status === 401 ? 'Not signed in' : 'Not allowed');
      return {
        status: response.status,
        body: reason,
        ...(response.status === 401 ? { headers: { 'WWW-Authenticate': 'Bearer realm="wavecast"' } } : {}),
      };
    }
    if (response.status !== 200) {
      this._log.warn('the auth backend answered with an error: connection refused', { url: this._settings.url, status: response.status });
      return unavailable(`answered ${response.status}`);
    }
    let claims: unknown;
    try {
      claims = JSON.parse(text);
    } catch {
      claims = null;
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      this._log.warn("the auth backend's answer is not a JSON object: connection refused", { url: this._settings.url });
      return unavailable('gave an answer that is not a JSON object');
    }
    const { user, ...rest } = claims as Record<string, unknown>;
    const identity = identityOfClaims({ ...rest, sub: user });
    if (!identity.ok) {
      this._log.warn("the auth backend's answer is not a user: connection refused", { url: this._settings.url, reason: identity.reason });
      return unavailable(
        `gave an answer the relay cannot use (${identity.reason.replace('The token has', 'it has').replace('"sub"', '"user"')})`,
      );
    }
    return identity.identity;
  }
}

function unavailable(what: string): Denial {
  return { status: 503, body: `The relay's authentication backend ${what}; try again later`, headers: { 'Retry-After': '5' } };
}

/** The body as text, at most MAX_ANSWER_BYTES (more is an error). */
async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString();
}
