// The head of an HTTP/1.1 request (RFC 9112 sections 2 to 5), as far as an upgrade needs it: the request
// line and the header fields, up to the blank line. No bodies, no keep-alive: a server that only upgrades
// reads one head per connection. Pure functions over the bytes.

/** A parsed request head. Header names keep their case in rawHeaders, as node:http gives them. */
export interface RequestHead {
  method: string;
  url: string;
  versionMajor: number;
  versionMinor: number;
  /** Names and values, alternating, in the order they came. */
  rawHeaders: string[];
}

export type HeadParse = { ok: true; head: RequestHead } | { ok: false; message: string };

/** The blank line that ends a head. */
export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/(\d)\.(\d)$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values may hold visible characters, spaces, tabs and obs-text; any other control is refused.
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const EDGE_SPACE = /^[ \t]+|[ \t]+$/g;

/**
 * Parses a head: `text` is everything before the blank line, decoded as latin1 (the bytes of a field
 * value are kept one character each, as node:http does).
 */
export function parseRequestHead(text: string): HeadParse {
  const lines = text.split('\r\n');
  const match = REQUEST_LINE.exec(lines[0]!);
  if (match === null) return { ok: false, message: 'Malformed request line' };
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // A line starting with a space or a tab is obs-fold, which a server may refuse (RFC 9112 5.2).
    if (colon <= 0 || line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
      return { ok: false, message: `Malformed header line ${i}` };
    }
    const name = line.slice(0, colon);
    if (!FIELD_NAME.test(name)) return { ok: false, message: `Invalid header name on line ${i}` };
    const value = line.slice(colon + 1).replace(EDGE_SPACE, '');
    if (BAD_VALUE_CHAR.test(value)) return { ok: false, message: `Invalid character in the value of ${name}` };
    rawHeaders.push(name, value);
  }
  return {
    ok: true,
    head: { method: match[1]!, url: match[2]!, versionMajor: Number(match[3]), versionMinor: Number(match[4]), rawHeaders },
  };
}

// Fields that a request carries at most once: node:http keeps the first of repeats and drops the others
// (its documentation of IncomingMessage#headers lists them); the rest are joined with ", ".
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** The headers object node:http would give for these raw headers: lower-case names, repeats merged. */
export function headersOf(rawHeaders: readonly string[]): Record<string, string | string[]> {
  // A plain object, as node:http gives (users call its Object methods); own properties only are read.
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === '__proto__') continue;
    const value = rawHeaders[i + 1]!;
    const seen = Object.hasOwn(headers, name) ? headers[name]! : undefined;
    if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else if (SINGLE.has(name)) continue;
    else headers[name] = seen + (name === 'cookie' ? '; ' : ', ') + value;
  }
  return headers;
}
