// `wavecast connect <url>`: the command-line WebSocket client (what people use wscat for). Lines typed
// or piped in are sent as text messages; received messages are printed, marked and coloured on a
// terminal, as they are when piped. The close code is printed and decides the exit status.
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { WebSocket, type ClientOptions } from '../index.js';
import { UsageError, helpText, parseArgs, type FlagSpec } from './args.js';
import { describeClose, formatPiped, formatTerminal, isNormalClose, normaliseUrl, paint, parseHeaders, visible, type ColourName } from './connect-format.js';

/** Where the command reads and writes; tests pass their own streams. */
export interface ConnectIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Where SIGINT and SIGTERM come from (default: the process); null to listen for none. */
  signals: EventEmitter | null;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Interrupted (Ctrl-C) before the connection opened. */
export const EXIT_INTERRUPTED = 130;

/** Seconds to wait for replies after the -x messages were sent, unless --wait says otherwise. */
const DEFAULT_EXECUTE_WAIT = 2;
/** How long the server may take to answer our close frame before the socket is dropped (ms). */
const CLOSE_TIMEOUT_MS = 5_000;
/** Piped input stops being read while this many bytes wait to be sent, and resumes below the low mark. */
const INPUT_HIGH_WATER = 1 << 20;
const INPUT_LOW_WATER = 1 << 18;
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

const SPECS: Record<string, FlagSpec> = {
  subprotocol: { type: 'list', short: 'p', value: 'NAME', description: 'ask for this subprotocol (repeatable)' },
  header: { type: 'list', short: 'H', value: '"NAME: VALUE"', description: 'add a header to the upgrade request (repeatable)' },
  origin: { type: 'string', value: 'ORIGIN', description: 'send this Origin header' },
  execute: { type: 'list', short: 'x', value: 'MESSAGE', description: 'send MESSAGE once connected (repeatable), print replies, close after --wait' },
  wait: { type: 'number', short: 'w', value: 'SECONDS', description: `seconds to wait for replies before closing (${DEFAULT_EXECUTE_WAIT} after -x, 0 after piped input)` },
  'ping-interval': { type: 'number', value: 'SECONDS', default: 0, description: 'send a ping every SECONDS (0: never); --verbose prints the pongs' },
  'handshake-timeout': { type: 'number', value: 'SECONDS', default: 30, description: 'give up if the opening handshake takes longer (0: never)' },
  insecure: { type: 'boolean', short: 'k', description: 'accept any TLS certificate (self-signed, expired, other name)' },
  'no-color': { type: 'boolean', description: 'no colours on a terminal (as when NO_COLOR is set)' },
  verbose: { type: 'boolean', short: 'v', description: 'also print pings, pongs and the negotiated extensions (on stderr)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const USAGE = 'wavecast connect [options] <url>';
const DESCRIPTION = `Opens a WebSocket to <url> (ws:, wss:, http:, https: or ws+unix:; without a scheme, ws:// is assumed).
Lines typed or piped in are sent as text messages; messages received are printed.`;

const DETAILS = `
Output:
  On a terminal: a "> " prompt; received messages are marked "< " and coloured (not with --no-color or
  NO_COLOR); control characters in them are shown escaped (\\x1b); binary messages are shown as
  <binary N bytes: HEX…> with at most the first 32 bytes.
  When stdout is not a terminal: each received message as it is, followed by a newline; a binary one as
  <binary N bytes: HEX> with every byte. Status lines ("connected", "closed: 1000 ...") go to stderr.

Input:
  From a terminal, each line is sent as you press Enter (empty lines are not sent); Ctrl-C or Ctrl-D
  closes the connection with 1000 and waits for the server's answer. From a pipe, every line is sent
  (empty ones too); when the input ends the connection is closed with 1000 (after --wait seconds).
  With -x, the input is not read.

Exit status:
  0    the connection closed normally: 1000, 1001 or 1005 (no code), whoever closed it
  1    could not connect, the upgrade was refused, the connection was lost (1006), or it closed with
       any other code (1002-1015, 3000-4999)
  2    bad usage: unknown option, bad value, bad URL
  130  interrupted before the connection opened

Examples:
  wavecast connect ws://localhost:3000/chat
  echo '{"op":"hello"}' | wavecast connect localhost:3000 > replies.txt
  wavecast connect -x ping -x 'status?' --wait 1 wss://example.com/socket
  wavecast connect -p chat.v2 -H "Authorization: Bearer $TOKEN" --origin https://example.com wss://example.com/
`;

export function connectHelp(): string {
  return helpText(USAGE, DESCRIPTION, SPECS) + DETAILS;
}

interface Settings {
  url: string;
  protocols: string[];
  options: ClientOptions;
  execute: string[];
  wait: number | undefined;
  pingInterval: number;
  verbose: boolean;
  noColor: boolean;
}

function seconds(name: string, value: unknown): number {
  const n = value as number;
  if (n < 0 || n > MAX_SECONDS) throw new UsageError(`--${name} needs a number of seconds from 0 to ${MAX_SECONDS}, not ${n}`);
  return n;
}

/** Reads the command line; throws a UsageError for anything wrong with it. Null means --help. */
function readSettings(argv: readonly string[], env: NodeJS.ProcessEnv): Settings | null {
  const { flags, positionals } = parseArgs(argv, SPECS, env);
  if (flags.help === true) return null;
  if (positionals.length === 0) throw new UsageError('missing the URL to connect to');
  if (positionals.length > 1) throw new UsageError(`one URL only (got ${positionals.map((p) => JSON.stringify(p)).join(', ')})`);
  const headers = parseHeaders(flags.header as string[]);
  if (!headers.ok) throw new UsageError(headers.message);
  const options: ClientOptions = {
    headers: headers.headers,
    handshakeTimeout: seconds('handshake-timeout', flags.handshakeTimeout) * 1000,
    closeTimeout: CLOSE_TIMEOUT_MS,
  };
  if (flags.origin !== undefined) options.origin = flags.origin as string;
  if (flags.insecure === true) options.rejectUnauthorized = false;
  return {
    url: normaliseUrl(positionals[0]!),
    protocols: flags.subprotocol as string[],
    options,
    execute: flags.execute as string[],
    wait: flags.wait === undefined ? undefined : seconds('wait', flags.wait),
    pingInterval: seconds('ping-interval', flags.pingInterval),
    verbose: flags.verbose === true,
    noColor: flags.noColor === true,
  };
}

/**
 * Runs `wavecast connect` with `argv` (the arguments after "connect"). Resolves with the exit status
 * once the connection is over; never rejects for anything a user or a server can do.
 */
export async function runConnect(argv: readonly string[], io: Partial<ConnectIO> = {}): Promise<number> {
  const full: ConnectIO = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    signals: io.signals === undefined ? process : io.signals,
  };
  let settings: Settings | null;
  try {
    settings = readSettings(argv, full.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    full.stderr.write(`wavecast connect: ${error.message}\nRun "wavecast connect --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (settings === null) {
    full.stdout.write(connectHelp());
    return EXIT_OK;
  }
  const session = new Session(settings, full);
  return session.run();
}

/** TLS verification failures that --insecure gets past. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One connection, from the constructor to the exit status. */
class Session {
  private ws: WebSocket | null = null;
  /** The prompt on a terminal (stdin and stdout both TTYs, no -x). */
  private prompt: Interface | null = null;
  /** Piped (or non-interactive) input, read line by line. */
  private lines: Interface | null = null;
  private inputPaused = false;
  private opened = false;
  private finished = false;
  private weClosed = false;
  private interrupted = false;
  private outputGone = false;
  private error: Error | null = null;
  /** What the server answered instead of 101, when it did. */
  private refusal: { status: string; location: string | undefined; body: string } | null = null;
  private waitTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastPingAt = 0;
  private resolve: (status: number) => void = () => {};

  private readonly terminal: boolean;
  private readonly colour: boolean;
  private readonly stderrColour: boolean;
  private readonly interactive: boolean;
  private readonly onSignal = () => this.interrupt();
  private readonly onOutputError = () => {
    // The reader of our output went away (`| head -1`): stop printing and close politely.
    this.outputGone = true;
    this.close();
  };
  private readonly onErrorOutputError = () => {};

  constructor(
    private readonly settings: Settings,
    private readonly io: ConnectIO,
  ) {
    const coloursAllowed = !settings.noColor && !(io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '');
    this.terminal = io.stdout.isTTY === true;
    this.colour = this.terminal && coloursAllowed;
    this.stderrColour = io.stderr.isTTY === true && coloursAllowed;
    this.interactive = settings.execute.length === 0 && this.terminal && io.stdin.isTTY === true;
  }

  run(): Promise<number> {
    const { settings } = this;
    let ws: WebSocket;
    try {
      ws = new WebSocket(settings.url, settings.protocols, settings.options);
    } catch (error) {
      // A bad URL, subprotocol or header value: the user's to fix.
      this.io.stderr.write(`wavecast connect: ${(error as Error).message}\nRun "wavecast connect --help" for usage.\n`);
      return Promise.resolve(EXIT_USAGE);
    }
    this.ws = ws;
    ws.on('open', () => this.onOpen());
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('ping', () => {
      if (settings.verbose) this.note('ping received (answered with a pong)', 'grey');
    });
    ws.on('pong', (data: Buffer) => this.onPong(data));
    ws.on('error', (error: Error) => {
      this.error ??= error;
    });
    ws.on('unexpected-response', (_request: unknown, response: IncomingMessage) => this.onRefused(response));
    ws.on('close', (code: number, reason: Buffer) => this.finish(code, reason.toString('utf8')));
    this.io.signals?.on('SIGINT', this.onSignal);
    this.io.signals?.on('SIGTERM', this.onSignal);
    this.io.stdout.on('error', this.onOutputError);
    this.io.stderr.on('error', this.onErrorOutputError);
    return new Promise<number>((resolve) => {
      this.resolve = resolve;
    });
  }

  // ------------------------------------------------------------ events of the WebSocket

  private onOpen(): void {
    const ws = this.ws!;
    const { settings } = this;
    this.opened = true;
    let line = `connected to ${ws.url}`;
    if (ws.protocol !== '') line += ` (subprotocol ${ws.protocol})`;
    if (this.interactive) line += '; Ctrl-C or Ctrl-D closes it';
    this.note(line, 'green');
    if (settings.verbose && ws.extensions !== '') this.note(`extensions: ${ws.extensions}`, 'grey');
    if (settings.pingInterval > 0) {
      this.pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        this.lastPingAt = Date.now();
        ws.ping();
      }, settings.pingInterval * 1000);
    }
    if (settings.execute.length > 0) {
      for (const message of settings.execute) ws.send(message);
      this.closeAfter(settings.wait ?? DEFAULT_EXECUTE_WAIT);
    } else if (this.interactive) {
      this.startPrompt();
    } else {
      this.startLines();
    }
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.outputGone) return;
    const text = this.terminal ? formatTerminal(data, isBinary, this.colour) : formatPiped(data, isBinary);
    this.abovePrompt(() => this.io.stdout.write(text));
  }

  private onPong(data: Buffer): void {
    if (!this.settings.verbose) return;
    let line = 'pong';
    if (this.lastPingAt > 0) line += ` (${Date.now() - this.lastPingAt} ms after our ping)`;
    if (data.length > 0) line += `: ${visible(data.toString('utf8'))}`;
    this.note(line, 'grey');
  }

  private onRefused(response: IncomingMessage): void {
    const refusal = {
      status: `HTTP ${response.statusCode ?? '?'} ${response.statusMessage ?? ''}`.trim(),
      location: response.headers.location,
      body: '',
    };
    this.refusal = refusal;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (refusal.body.length < 1024) refusal.body += chunk;
    });
    response.on('error', () => {});
  }

  // ------------------------------------------------------------ input

  /** A terminal on both sides: readline with a prompt, history and line editing. */
  private startPrompt(): void {
    const rl = createInterface({ input: this.io.stdin, output: this.io.stdout, terminal: true, prompt: '> ', historySize: 500 });
    this.prompt = rl;
    rl.on('line', (line) => {
      if (line !== '') this.send(line);
      if (this.prompt === rl) rl.prompt();
    });
    rl.on('SIGINT', () => this.interrupt());
    rl.on('error', (error) => this.inputFailed(error));
    rl.on('close', () => {
      // Ctrl-D (or the terminal went away).
      if (this.prompt !== rl) return;
      this.prompt = null;
      this.clearPromptLine();
      this.close();
    });
    rl.prompt();
  }

  /** Input from a pipe or a file (or a terminal while stdout is not one): each line is a message. */
  private startLines(): void {
    const rl = createInterface({ input: this.io.stdin, terminal: false, crlfDelay: Infinity });
    this.lines = rl;
    rl.on('line', (line) => this.send(line, true));
    rl.on('error', (error) => this.inputFailed(error));
    rl.on('close', () => {
      if (this.lines !== rl) return;
      this.lines = null;
      this.closeAfter(this.settings.wait ?? 0);
    });
  }

  /** The input could not be read (EIO on a terminal that went away, say): close as at its end. */
  private inputFailed(error: Error): void {
    this.note(`cannot read the input: ${error.message}`, 'red');
    this.close();
  }

  private send(line: string, piped = false): void {
    const ws = this.ws!;
    if (ws.readyState !== WebSocket.OPEN) {
      if (!piped) this.note('not sent: the connection is closing', 'yellow');
      return;
    }
    ws.send(line, () => {
      if (this.inputPaused && ws.bufferedAmount < INPUT_LOW_WATER) {
        this.inputPaused = false;
        this.lines?.resume();
      }
    });
    if (piped && !this.inputPaused && ws.bufferedAmount >= INPUT_HIGH_WATER) {
      this.inputPaused = true;
      this.lines?.pause();
    }
  }

  // ------------------------------------------------------------ closing

  private closeAfter(seconds: number): void {
    if (seconds === 0) {
      this.close();
      return;
    }
    this.waitTimer = setTimeout(() => {
      this.waitTimer = null;
      this.close();
    }, seconds * 1000);
  }

  /** Starts the closing handshake with 1000 (or gives up connecting). */
  private close(): void {
    const ws = this.ws!;
    this.stopInput();
    if (ws.readyState === WebSocket.CONNECTING) {
      this.interrupted = true;
      ws.close();
    } else if (ws.readyState === WebSocket.OPEN) {
      this.weClosed = true;
      ws.close(1000);
    }
  }

  /** Ctrl-C, SIGINT or SIGTERM: close politely; a second time while closing, drop the connection. */
  private interrupt(): void {
    const ws = this.ws!;
    if (ws.readyState === WebSocket.CLOSING) {
      this.note('closing handshake abandoned', 'yellow');
      ws.terminate();
      return;
    }
    this.close();
  }

  private stopInput(): void {
    if (this.waitTimer !== null) {
      clearTimeout(this.waitTimer);
      this.waitTimer = null;
    }
    const prompt = this.prompt;
    if (prompt !== null) {
      this.prompt = null;
      prompt.close();
      this.clearPromptLine();
    }
    const lines = this.lines;
    if (lines !== null) {
      this.lines = null;
      lines.close();
    }
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.stopInput();
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.io.signals?.off('SIGINT', this.onSignal);
    this.io.signals?.off('SIGTERM', this.onSignal);
    const status = this.report(code, reason);
    this.io.stdout.off('error', this.onOutputError);
    this.io.stderr.off('error', this.onErrorOutputError);
    this.resolve(status);
  }

  /** Prints how the connection ended; returns the exit status. */
  private report(code: number, reason: string): number {
    const url = this.ws!.url;
    const error = this.error;
    if (!this.opened) {
      if (this.interrupted) {
        this.note('interrupted before the connection opened', 'yellow');
        return EXIT_INTERRUPTED;
      }
      if (this.refusal !== null) {
        let line = `wavecast connect: ${url} refused the WebSocket upgrade: ${this.refusal.status}`;
        if (this.refusal.location !== undefined) line += ` (Location: ${visible(this.refusal.location)})`;
        const body = visible(this.refusal.body.trim().split('\n')[0]!.slice(0, 200));
        if (body !== '') line += `: ${body}`;
        this.note(line, 'red');
        return EXIT_FAILURE;
      }
      let line = `wavecast connect: could not connect to ${url}: ${error?.message ?? 'the connection closed during the opening handshake'}`;
      if (CERTIFICATE_ERRORS.has((error as NodeJS.ErrnoException | null)?.code ?? '')) line += ' (-k/--insecure connects anyway)';
      this.note(line, 'red');
      return EXIT_FAILURE;
    }
    if (code === 1006) {
      let line = 'connection lost: 1006 (abnormal closure: no close frame)';
      if (this.weClosed && error === null) line += `; the server did not answer our close frame (we wait ${CLOSE_TIMEOUT_MS / 1000} s)`;
      else if (error !== null) line += `: ${error.message}`;
      this.note(line, 'red');
      return EXIT_FAILURE;
    }
    const normal = isNormalClose(code);
    let line = `closed: ${describeClose(code, visible(reason))}`;
    if (error !== null) line += ` — ${error.message}`;
    this.note(line, normal ? 'green' : 'red');
    return normal ? EXIT_OK : EXIT_FAILURE;
  }

  // ------------------------------------------------------------ output

  /** A status line on stderr, above the prompt when there is one. */
  private note(text: string, colour: ColourName): void {
    this.abovePrompt(() => this.io.stderr.write(paint(this.stderrColour, colour, text) + '\n'));
  }

  /** Writes without mangling the line being typed: clears the prompt, writes, then draws it again. */
  private abovePrompt(write: () => void): void {
    const prompt = this.prompt;
    if (prompt === null) {
      write();
      return;
    }
    this.clearPromptLine();
    write();
    prompt.prompt(true);
  }

  private clearPromptLine(): void {
    if (!this.interactive || this.outputGone) return;
    clearLine(this.io.stdout, 0);
    cursorTo(this.io.stdout, 0);
  }
}
