// The flags of `wavecast connect`, which are wscat's (-c, -l, -s, -p as the protocol version, -n, -o, -P,
// -L, --auth, -w with -1, --slash, -H, -x, --ca, --cert, --key, --passphrase, --no-color) with a few of
// ours beside them, and how they become the client's options. Anything wrong is a UsageError (exit 2),
// found before connecting.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { ClientOptions } from '../index.js';
import { UsageError, camel, helpText, parseArgs, type FlagSpec, type FlagValues } from './args.js';
import { normaliseUrl, parseHeaders } from './connect-format.js';
import { isToken } from '../protocol/handshake.js';

/** Seconds to wait for replies after the -x messages were sent, unless --wait says otherwise. */
export const DEFAULT_EXECUTE_WAIT = 2;
const DEFAULT_HANDSHAKE_TIMEOUT = 30;
export const DEFAULT_MAX_REDIRECTS = 10;
/** How long the server may take to answer our close frame before the socket is dropped (ms). */
export const CLOSE_TIMEOUT_MS = 5_000;
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export const CONNECT_FLAGS: Record<string, FlagSpec> = {
  connect: { type: 'string', short: 'c', value: 'URL', description: 'the server to connect to (the URL may also come last, without -c)' },
  listen: {
    type: 'string',
    short: 'l',
    value: '[HOST:]PORT',
    description: 'listen mode: wait for a client on PORT (every interface, or HOST), print what it sends and send it what you type',
  },
  subprotocol: { type: 'list', short: 's', value: 'NAME', description: 'ask for this subprotocol (repeatable); with --listen, accept it' },
  protocol: { type: 'string', short: 'p', value: 'VERSION', description: 'WebSocket protocol version: 13 (RFC 6455, the default) or 8' },
  header: { type: 'list', short: 'H', value: '"NAME: VALUE"', description: 'add a header to the upgrade request (repeatable)' },
  auth: {
    type: 'string',
    value: 'USER:PASSWORD',
    description: 'HTTP Basic authentication (as user:password@ in the URL, which is never printed)',
  },
  origin: { type: 'string', short: 'o', value: 'ORIGIN', description: 'send this Origin header' },
  host: { type: 'string', value: 'HOST', description: "send this Host header instead of the URL's" },
  execute: {
    type: 'list',
    short: 'x',
    value: 'MESSAGE',
    description: 'send MESSAGE once connected (repeatable), print replies, close after --wait; input is not read',
  },
  wait: {
    type: 'number',
    short: 'w',
    value: 'SECONDS',
    description: `seconds to wait for replies before closing: after -x (default ${DEFAULT_EXECUTE_WAIT}), after piped input ends (default 0); -1: stay connected until the server closes or Ctrl-C`,
  },
  slash: {
    type: 'boolean',
    description: 'slash commands in the input: /ping [data], /pong [data], /close [code [reason]] (// sends a line starting with /)',
  },
  'show-ping-pong': { type: 'boolean', short: 'P', description: 'print a line (on stderr) for each ping and pong received' },
  location: { type: 'boolean', short: 'L', description: 'follow redirects (3xx)' },
  'max-redirects': { type: 'number', value: 'N', description: `follow at most N redirects (default ${DEFAULT_MAX_REDIRECTS})` },
  'no-check': {
    type: 'boolean',
    short: 'n',
    description: "do not check the server's TLS certificate (self-signed, expired, for another name)",
  },
  insecure: { type: 'boolean', short: 'k', description: 'the same as -n (as with curl)' },
  ca: { type: 'string', value: 'FILE', description: 'trust the certificate authority in this PEM file' },
  cert: { type: 'string', value: 'FILE', description: 'client certificate (PEM) for servers that ask for one; with --key' },
  key: { type: 'string', value: 'FILE', description: 'private key (PEM) of --cert' },
  passphrase: {
    type: 'string',
    optionalValue: true,
    value: 'PASSPHRASE',
    description: 'passphrase of an encrypted --key; without a value, asked for on the terminal',
  },
  'ping-interval': {
    type: 'number',
    value: 'SECONDS',
    description: 'send a ping every SECONDS (default 0: never); -v prints the pongs with their round trip',
  },
  'handshake-timeout': {
    type: 'number',
    value: 'SECONDS',
    description: `give up if the opening handshake takes longer (default ${DEFAULT_HANDSHAKE_TIMEOUT}; 0: never)`,
  },
  'no-color': { type: 'boolean', description: 'no colours on a terminal (as when NO_COLOR is set)' },
  verbose: {
    type: 'boolean',
    short: 'v',
    description: 'also print pings, pongs (with their round trip) and the negotiated extensions, on stderr',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/** Flags that only mean something when connecting (wscat's "--connect only"), not with --listen. */
const CONNECT_ONLY = [
  'protocol',
  'header',
  'auth',
  'origin',
  'host',
  'execute',
  'wait',
  'location',
  'max-redirects',
  'no-check',
  'insecure',
  'ca',
  'cert',
  'key',
  'passphrase',
  'ping-interval',
  'handshake-timeout',
];

const USAGE = 'wavecast connect [options] (<url> | -c <url> | -l [host:]<port>)';
const DESCRIPTION = `Opens a WebSocket to <url> (ws:, wss:, http:, https: or ws+unix:; without a scheme, ws:// is assumed), or
with -l waits for one client. Lines typed or piped in are sent as text messages; messages received are
printed. The flags are wscat's (note: -p is the protocol version, as in wscat; a subprotocol is -s).`;

const DETAILS = `
Output:
  On a terminal: a "> " prompt; received messages are marked "< " and coloured (not with --no-color or
  NO_COLOR); control characters in them are shown escaped (\\x1b); binary messages are shown as
  <binary N bytes: HEX…> with at most the first 32 bytes.
  When stdout is not a terminal: each received message as it is, followed by a newline; a binary one as
  <binary N bytes: HEX> with every byte. Status lines ("connected", "closed: 1000 ...") go to stderr, with
  the password of a URL masked.

Input:
  From a terminal, each line is sent as you press Enter (empty lines are not sent); Ctrl-C or Ctrl-D
  closes the connection with 1000 and waits for the server's answer. From a pipe, every line is sent
  (empty ones too); when the input ends the connection is closed with 1000 (after --wait seconds).
  With -x, the input is not read.

Listen mode (-l):
  Serves one client at a time (others are refused with 503 while one is connected): prints what it
  sends, sends it the lines typed or piped in. Piped input waits for a client; when it ends, the client
  is closed with 1000 and the command exits. Ctrl-C or Ctrl-D stops listening.

Exit status:
  0    the connection closed normally: 1000, 1001 or 1005 (no code), whoever closed it; listen mode ended
  1    could not connect (or listen), the upgrade was refused, the connection was lost (1006), or it
       closed with any other code (1002-1015, 3000-4999)
  2    bad usage: unknown option, bad value, bad URL
  130  interrupted before the connection opened

Examples:
  wavecast connect ws://localhost:3000/chat
  wavecast connect -c wss://example.com/socket -s chat.v2 -H "Authorization: Bearer $TOKEN"
  echo '{"op":"hello"}' | wavecast connect localhost:3000 > replies.txt
  wavecast connect -x ping -x 'status?' -w 1 wss://example.com/socket
  wavecast connect -x subscribe -w -1 ws://localhost:3000/feed
  wavecast connect -l 8080
`;

export function connectHelp(): string {
  return helpText(USAGE, DESCRIPTION, CONNECT_FLAGS) + DETAILS;
}

export interface ConnectSettings {
  mode: 'connect';
  url: string;
  protocols: string[];
  options: ClientOptions;
  execute: string[];
  /** Seconds; -1: never close by ourselves; undefined: the default of the case. */
  wait: number | undefined;
  pingInterval: number;
  /** Seconds, for messages. */
  handshakeTimeout: number;
  /** --passphrase was given without a value: ask for it on the terminal before connecting. */
  askPassphrase: boolean;
  /** --cert and --key, as given (for messages). */
  tlsFiles: TlsFiles;
  verbose: boolean;
  showPingPong: boolean;
  slash: boolean;
  noColor: boolean;
}

export interface ListenSettings {
  mode: 'listen';
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
  protocols: string[];
  verbose: boolean;
  showPingPong: boolean;
  slash: boolean;
  noColor: boolean;
}

function seconds(name: string, value: unknown, fallback: number, allowForever = false): number {
  if (value === undefined) return fallback;
  const n = value as number;
  if (allowForever && n === -1) return -1;
  if (n < 0 || n > MAX_SECONDS)
    throw new UsageError(`--${name} needs a number of seconds from 0 to ${MAX_SECONDS}${allowForever ? ', or -1 (no end)' : ''}, not ${n}`);
  return n;
}

function given(flags: FlagValues, name: string): boolean {
  const value = flags[camel(name)];
  return Array.isArray(value) ? value.length > 0 : value !== undefined;
}

/** Reads the command line; throws a UsageError for anything wrong with it. Null means --help. */
export function readConnectSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ConnectSettings | ListenSettings | null {
  const { flags, positionals } = parseArgs(argv, CONNECT_FLAGS, env);
  if (flags.help === true) return null;
  const common = {
    protocols: checkSubprotocols(flags.subprotocol as string[]),
    verbose: flags.verbose === true,
    showPingPong: flags.showPingPong === true || flags.verbose === true,
    slash: flags.slash === true,
    noColor: flags.noColor === true,
  };
  if (positionals.length > 1) throw new UsageError(`one URL only (got ${positionals.map((p) => JSON.stringify(p)).join(', ')})`);
  if (flags.listen !== undefined) {
    if (flags.connect !== undefined || positionals.length > 0) throw new UsageError('use either --listen or --connect (a URL), not both');
    const misplaced = CONNECT_ONLY.find((name) => given(flags, name));
    if (misplaced !== undefined) throw new UsageError(`--${misplaced} is for connecting, not for --listen`);
    return { mode: 'listen', ...readListenAddress(flags.listen as string), ...common };
  }
  const connect = flags.connect as string | undefined;
  if (connect !== undefined && positionals.length > 0 && positionals[0] !== connect)
    throw new UsageError(`two URLs: -c ${connect} and ${positionals[0]}; give one`);
  const address = connect ?? positionals[0];
  if (address === undefined)
    throw new UsageError('missing the URL to connect to (wavecast connect <url>, or -c <url>), or -l <port> to listen');

  const headers = parseHeaders(flags.header as string[]);
  if (!headers.ok) throw new UsageError(headers.message);
  if (flags.auth !== undefined) {
    if (!(flags.auth as string).includes(':')) throw new UsageError('--auth needs USER:PASSWORD');
    if (headers.headers.authorization !== undefined)
      throw new UsageError('--auth and -H "Authorization: ..." both set the Authorization header: give one');
    headers.headers.authorization = `Basic ${Buffer.from(flags.auth as string).toString('base64')}`;
  }
  if (flags.host !== undefined) {
    if (headers.headers.host !== undefined) throw new UsageError('--host and -H "Host: ..." both set the Host header: give one');
    headers.headers.host = flags.host as string;
  }
  const handshakeTimeout = seconds('handshake-timeout', flags.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT);
  const options: ClientOptions = {
    headers: headers.headers,
    handshakeTimeout: handshakeTimeout * 1000,
    closeTimeout: CLOSE_TIMEOUT_MS,
    protocolVersion: readProtocolVersion(flags.protocol as string | undefined),
  };
  if (flags.origin !== undefined) options.origin = flags.origin as string;
  if (flags.noCheck === true || flags.insecure === true) options.rejectUnauthorized = false;
  if (flags.location === true) {
    options.followRedirects = true;
    const max = flags.maxRedirects === undefined ? DEFAULT_MAX_REDIRECTS : (flags.maxRedirects as number);
    if (!Number.isInteger(max) || max < 0) throw new UsageError(`--max-redirects needs a whole number, 0 or more, not ${max}`);
    options.maxRedirects = max;
  } else if (flags.maxRedirects !== undefined) {
    throw new UsageError('--max-redirects goes with -L/--location (redirects are not followed without it)');
  }
  const askPassphrase = readTlsFiles(flags, options);
  return {
    mode: 'connect',
    url: normaliseUrl(address),
    options,
    execute: flags.execute as string[],
    wait: flags.wait === undefined ? undefined : seconds('wait', flags.wait, 0, true),
    pingInterval: seconds('ping-interval', flags.pingInterval, 0),
    handshakeTimeout,
    askPassphrase,
    tlsFiles: { cert: flags.cert as string | undefined, key: flags.key as string | undefined },
    ...common,
  };
}

function readListenAddress(value: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(value);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) throw new UsageError(`--listen needs a port (0 to 65535), or HOST:PORT, not "${value}"`);
  return { host: match[1] ?? match[2], port };
}

function readProtocolVersion(value: string | undefined): 8 | 13 {
  if (value === undefined || value === '13') return 13;
  if (value === '8') return 8;
  throw new UsageError(
    `-p/--protocol is the WebSocket protocol version, 8 or 13 (as in wscat), not "${value}"; a subprotocol is -s/--subprotocol`,
  );
}

/** --ca, --cert, --key and --passphrase into the options; true when the passphrase is to be asked for. */
function readTlsFiles(flags: FlagValues, options: ClientOptions): boolean {
  const read = (flag: string): Buffer | undefined => {
    const file = flags[flag] as string | undefined;
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if (ca !== undefined) {
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new UsageError(`--ca: ${String(flags.ca)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    options.ca = ca;
  }
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together: give both');
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  const passphrase = flags.passphrase;
  if (passphrase !== undefined && key === undefined) throw new UsageError('--passphrase is for an encrypted --key');
  if (passphrase === true) return true;
  if (typeof passphrase === 'string') options.passphrase = passphrase;
  checkClientCertificate(options, { cert: flags.cert as string | undefined, key: flags.key as string | undefined });
  return false;
}

export interface TlsFiles {
  cert: string | undefined;
  key: string | undefined;
}

/** Loads --cert and --key as TLS will, so that a wrong passphrase or a mismatch is told before connecting. */
export function checkClientCertificate(options: ClientOptions, files: TlsFiles): void {
  if (options.key === undefined) return;
  try {
    createSecureContext({
      cert: options.cert,
      key: options.key,
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_OSSL_BAD_DECRYPT') {
      throw new UsageError(
        options.passphrase === undefined
          ? `--key ${files.key} is encrypted: give --passphrase (alone, to be asked for it)`
          : `--key ${files.key}: wrong passphrase`,
      );
    }
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH')
      throw new UsageError(`--cert ${files.cert} and --key ${files.key} do not belong together`);
    throw new UsageError(`--cert/--key: ${(error as Error).message}`);
  }
}

/** The -s values, each a token (RFC 6455: no spaces, commas or quotes) given once; a UsageError otherwise. */
function checkSubprotocols(names: string[]): string[] {
  const seen = new Set<string>();
  for (const name of names) {
    if (!isToken(name))
      throw new UsageError(
        `-s/--subprotocol ${JSON.stringify(name)} is not a subprotocol name: no spaces, commas, quotes or other separators`,
      );
    if (seen.has(name)) throw new UsageError(`-s/--subprotocol ${JSON.stringify(name)} is given twice`);
    seen.add(name);
  }
  return names;
}
