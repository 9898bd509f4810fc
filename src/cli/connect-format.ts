// What `wavecast connect` prints, as pure functions: received messages for a terminal (marked, coloured,
// control characters made visible) or for a pipe (as they are, one per line), close codes in words,
// and the parsing of -H "Name: value" headers.
import { HANDSHAKE_HEADERS } from '../client/request.js';
import { isToken } from '../protocol/handshake.js';

/** ANSI colours; `paint` leaves text alone when colours are off. */
export const Colour = {
  cyan: 36,
  green: 32,
  red: 31,
  yellow: 33,
  grey: 90,
} as const;
export type ColourName = keyof typeof Colour;

export function paint(on: boolean, colour: ColourName, text: string): string {
  return on ? `\x1b[${Colour[colour]}m${text}\x1b[39m` : text;
}

/** How many bytes of a binary message a terminal shows (in hex) before "…". */
export const TERMINAL_BINARY_PREVIEW = 32;

/** A binary message as one line: `<binary N bytes: HEX>`, the hex cut after `preview` bytes when given. */
export function describeBinary(data: Buffer, preview?: number): string {
  if (data.length === 0) return '<binary 0 bytes>';
  const cut = preview !== undefined && data.length > preview;
  const hex = (cut ? data.subarray(0, preview) : data).toString('hex');
  return `<binary ${data.length} byte${data.length === 1 ? '' : 's'}: ${hex}${cut ? '…' : ''}>`;
}

/**
 * Control characters (C0 but tab and newline, DEL, C1) as visible escapes, so that a message cannot move
 * the cursor, clear the screen or retitle the terminal.
 */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** A received message for a pipe: text as it is, binary as `<binary N bytes: HEX>`; then a newline. */
export function formatPiped(data: Buffer, isBinary: boolean): string {
  return (isBinary ? describeBinary(data) : data.toString('utf8')) + '\n';
}

/**
 * A received message for a terminal: the `< ` mark, control characters made visible, the lines of a
 * multi-line text indented under the first, binary shortened to a preview.
 */
export function formatTerminal(data: Buffer, isBinary: boolean, colour: boolean): string {
  const mark = paint(colour, 'cyan', '< ');
  if (isBinary) return mark + paint(colour, 'yellow', describeBinary(data, TERMINAL_BINARY_PREVIEW)) + '\n';
  const lines = visible(data.toString('utf8')).split('\n');
  return mark + lines.join('\n  ') + '\n';
}

const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code',
  1006: 'abnormal closure: no close frame',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failed',
};

/** `1011 (internal error) "reason"`; codes 3000-4999 are the application's and have no name. */
export function describeClose(code: number, reason: string): string {
  const name = CLOSE_NAMES[code];
  const text = name === undefined ? String(code) : `${code} (${name})`;
  return reason === '' ? text : `${text} ${JSON.stringify(reason)}`;
}

/** The close codes that end the command with exit status 0: the closing handshake went as it should. */
export function isNormalClose(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}

/**
 * Reads -H values ("Name: value") into request headers; a name given twice gets both values. Returns
 * an error message for the first malformed one.
 */
export function parseHeaders(
  values: readonly string[],
): { ok: true; headers: Record<string, string | string[]> } | { ok: false; message: string } {
  const headers: Record<string, string | string[]> = {};
  for (const raw of values) {
    const colon = raw.indexOf(':');
    const name = colon === -1 ? '' : raw.slice(0, colon).trim();
    if (colon === -1 || !isToken(name)) {
      return { ok: false, message: `--header needs "Name: value", got ${JSON.stringify(raw)}` };
    }
    const key = name.toLowerCase();
    if (HANDSHAKE_HEADERS.has(key)) {
      const hint = key === 'sec-websocket-protocol' ? ' (use -p/--subprotocol)' : '';
      return { ok: false, message: `--header ${name}: this header belongs to the opening handshake and cannot be set${hint}` };
    }
    const value = raw.slice(colon + 1).trim();
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      return { ok: false, message: `--header ${name}: the value contains a control character` };
    }
    const existing = headers[key];
    if (existing === undefined) headers[key] = value;
    else headers[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { ok: true, headers };
}

/** The URL to connect to: a scheme-less address ("localhost:3000/chat") means ws://. */
export function normaliseUrl(address: string): string {
  if (address.includes('://') || /^ws\+unix:/i.test(address)) return address;
  return `ws://${address}`;
}

/**
 * `text` with the password of every URL in it masked (`ws://ada:***@host/`), for every line the
 * command prints: status lines, errors, and error messages that quote the URL.
 */
export function maskPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#]*@/gi, '$1***@');
}
