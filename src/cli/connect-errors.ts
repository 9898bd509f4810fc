// Why `wavecast connect` could not connect, in plain words, with what to do next: nothing listening, a
// name DNS does not know, no answer, TLS to a plain port, a port that does not speak HTTP, an ordinary
// web page, and each kind of refused upgrade. No OpenSSL internals, parser codes or HTML on the screen.
import { visible } from './connect-format.js';

/** What the server answered instead of 101 Switching Protocols. */
export interface Refusal {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  /** The start of the body (at most about 1 KiB). */
  body: string;
}

export interface Failure {
  url: string;
  /** The error the client reported, if any. */
  error: (Error & { code?: string }) | null;
  refusal: Refusal | null;
  /** --handshake-timeout, in seconds (0: none). */
  handshakeTimeout: number;
  /** -L was given. */
  followRedirects: boolean;
  /** --max-redirects (or its default). */
  maxRedirects: number;
  protocolVersion: number;
}

/** The whole line: `cannot connect to URL: what happened. What to do.` (the caller masks passwords). */
export function describeFailure(failure: Failure): string {
  return `cannot connect to ${failure.url}: ${failure.refusal !== null ? describeRefusal(failure, failure.refusal) : describeError(failure)}`;
}

/** host:port (or the socket path) of the URL, for messages. */
function place(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'ws+unix:') return `the socket ${parsed.pathname.split(':')[0]}`;
    const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'wss:' || parsed.protocol === 'https:' ? '443' : '80';
    return `${parsed.hostname}:${port}`;
  } catch {
    return url;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

function isSecure(url: string): boolean {
  return /^(wss|https):/i.test(url);
}

/** The first line of a body that is text (not a page of HTML), made safe to print, or ''. */
function bodyLine(refusal: Refusal): string {
  const type = String(refusal.headers['content-type'] ?? '');
  const body = refusal.body.trim();
  if (/html/i.test(type) || body.startsWith('<')) return '';
  const line = visible(body.split('\n')[0]!.trim());
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function describeRefusal(failure: Failure, refusal: Refusal): string {
  const status = `HTTP ${refusal.status}${refusal.statusText !== '' ? ` ${refusal.statusText}` : ''}`;
  const said = bodyLine(refusal);
  const answer = said !== '' ? `${status}: ${said}` : status;
  const { status: code } = refusal;
  if (code >= 200 && code < 300) {
    const type = String(refusal.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    return `it is an ordinary web address, not a WebSocket endpoint: it answered ${status}${type !== '' ? ` (${type})` : ''} instead of switching to WebSocket. Check the path: WebSocket servers often listen on one such as /ws`;
  }
  if (code >= 300 && code < 400) {
    const location = refusal.headers.location;
    const where = typeof location === 'string' ? ` to ${visible(location)}` : '';
    return failure.followRedirects || where === ''
      ? `the server redirects (${status})${where}, and it cannot be followed`
      : `the server redirects (${status})${where}. -L (--location) follows redirects`;
  }
  switch (code) {
    case 400:
      return `the server refused the upgrade request as malformed (${answer})`;
    case 401:
      return `the server wants credentials (${answer}). Give them with --auth USER:PASSWORD, or a token with -H "Authorization: Bearer TOKEN"`;
    case 403:
      return `the server refused this client (${answer}): the credentials or token are not accepted, or the Origin is not allowed (-o/--origin sets it)`;
    case 404:
      return `there is nothing at this path (${answer}). Check the path in the URL`;
    case 426: {
      const wanted = refusal.headers['sec-websocket-version'];
      if (failure.protocolVersion !== 13)
        return `the server does not speak WebSocket version ${failure.protocolVersion} (${status}${wanted !== undefined ? `; it speaks ${String(wanted)}` : ''}). Leave out -p/--protocol`;
      return `the server wants something else at this address (${answer}): it may not be a WebSocket endpoint`;
    }
    case 429:
      return `the server has had too many requests (${answer}). Wait, then try again`;
  }
  if (code >= 500) return `the server failed to take the connection (${answer}). Try again later, or look at the server's logs`;
  return `the server refused the WebSocket upgrade (${answer})`;
}

/** TLS failures of certificate checks, which --ca or -n get past. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
]);

function describeError(failure: Failure): string {
  const { error, url } = failure;
  const where = place(url);
  if (error === null) return `the connection closed during the opening handshake. ${where} may not be a WebSocket server`;
  const code = error.code ?? '';
  const message = error.message;
  if (code === 'ECONNREFUSED')
    return `nothing is listening on ${where} (connection refused). Is the server running, and is the port right?`;
  if (code === 'ENOTFOUND') return `no such host: DNS does not know "${hostOf(url)}". Check its spelling`;
  if (code === 'EAI_AGAIN') return `cannot look up "${hostOf(url)}" (DNS did not answer). Check the network, or try again`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `no route to ${where} (${code}). Check the address and the network`;
  if (code === 'ETIMEDOUT')
    return `${where} could not be reached (timed out): a firewall may be dropping the connection, or the address is wrong`;
  if (message === 'Opening handshake has timed out') {
    return `no answer from ${where} within ${failure.handshakeTimeout} s (--handshake-timeout). It may not be a WebSocket server, or a firewall drops the connection`;
  }
  if (message === 'Maximum redirects exceeded')
    return `too many redirects (more than ${failure.maxRedirects}). --max-redirects raises the limit`;
  if (code.startsWith('HPE_')) return `${where} answered, but not in HTTP: it is not a WebSocket server. Check the port`;
  if (isSecure(url)) {
    if (
      code === 'EPROTO' ||
      code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
      /wrong version number|before secure TLS connection was established/.test(message)
    ) {
      return `${where} does not speak TLS, which wss:// needs. If it is a plain server, connect with ${url.replace(/^wss:/i, 'ws:').replace(/^https:/i, 'http:')}`;
    }
    if (UNTRUSTED.has(code))
      return `the server's certificate is not trusted (${message}). Give the certificate of its authority with --ca FILE, or skip the check with -n/--no-check`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return `the server's certificate is for another name (${message}). Use the name it is for, or skip the check with -n/--no-check`;
    if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
      return 'the server wants a client certificate. Give it with --cert FILE and --key FILE';
    const alert = /alert ([a-z0-9 ]+?)(?::|$)/i.exec(message);
    if (alert !== null) return `the TLS handshake failed: the server said "${alert[1]!.replace(/^tlsv1\d? /, '')}"`;
  }
  if (code === 'ECONNRESET' || message === 'socket hang up')
    return `${where} closed the connection without answering the upgrade. It may not be a WebSocket server, or it refused this client`;
  return message;
}
