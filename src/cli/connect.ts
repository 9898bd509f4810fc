// `wavecast connect`: the command-line WebSocket client, with wscat's flags (connect-options.ts). Lines
// typed or piped in are sent as text messages; received messages are printed, marked and coloured on a
// terminal, as they are when piped (line-console.ts). The close code is printed and decides the exit
// status; a failure to connect is told in plain words with what to do (connect-errors.ts). With -l it
// listens instead (listen.ts).
import type { IncomingMessage } from 'node:http';
import { WebSocket } from '../index.js';
import { UsageError } from './args.js';
import { describeFailure, type Refusal } from './connect-errors.js';
import { describeClose, isNormalClose, visible } from './connect-format.js';
import {
  CLOSE_TIMEOUT_MS,
  DEFAULT_EXECUTE_WAIT,
  DEFAULT_MAX_REDIRECTS,
  checkClientCertificate,
  connectHelp,
  readConnectSettings,
  type ConnectSettings,
  type ListenSettings,
} from './connect-options.js';
import { LineConsole, askHidden, type ConsoleIO } from './line-console.js';
import { deliverLine, showTraffic } from './socket-lines.js';

export type { ConsoleIO as ConnectIO } from './line-console.js';
export { connectHelp } from './connect-options.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Interrupted (Ctrl-C) before the connection opened. */
export const EXIT_INTERRUPTED = 130;

/** How much of a refusal's body is read (the first line of it is shown). */
const REFUSAL_BODY_LIMIT = 1024;

/**
 * Runs `wavecast connect` with `argv` (the arguments after "connect"). Resolves with the exit status
 * once the connection (or listen mode) is over; never rejects for anything a user or a server can do.
 */
export async function runConnect(argv: readonly string[], io: Partial<ConsoleIO> = {}): Promise<number> {
  const full: ConsoleIO = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    signals: io.signals === undefined ? process : io.signals,
  };
  const usage = (message: string) => {
    full.stderr.write(`wavecast connect: ${message}\nRun "wavecast connect --help" for usage.\n`);
    return EXIT_USAGE;
  };
  let settings: ConnectSettings | ListenSettings | null;
  try {
    settings = readConnectSettings(argv, full.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usage(error.message);
  }
  if (settings === null) {
    full.stdout.write(connectHelp());
    return EXIT_OK;
  }
  if (settings.mode === 'listen') return (await import('./listen.js')).runListen(settings, full);
  if (settings.askPassphrase) {
    if (full.stdin.isTTY !== true)
      return usage('--passphrase without a value asks on the terminal, and stdin is not one: give --passphrase=PASSPHRASE');
    const passphrase = await askHidden(full, `Passphrase for ${settings.tlsFiles.key}: `);
    if (passphrase === null) return EXIT_INTERRUPTED;
    settings.options.passphrase = passphrase;
    try {
      checkClientCertificate(settings.options, settings.tlsFiles);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return usage(error.message);
    }
  }
  return new ConnectSession(settings, full).run();
}

/** One connection, from the constructor to the exit status. */
class ConnectSession {
  private ws: WebSocket | null = null;
  /** The URL before any redirect. */
  private firstUrl = '';
  private readonly console: LineConsole;
  private opened = false;
  private finished = false;
  private weClosed = false;
  private interrupted = false;
  private error: (Error & { code?: string }) | null = null;
  /** What the server answered instead of 101, when it did. */
  private refusal: Refusal | null = null;
  private waitTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastPingAt = 0;
  private resolve: (status: number) => void = () => {};

  constructor(
    private readonly settings: ConnectSettings,
    io: ConsoleIO,
  ) {
    this.console = new LineConsole(
      io,
      {
        line: (text) => this.onLine(text),
        end: () => this.closeAfter(this.settings.wait ?? 0),
        interrupt: () => this.interrupt(),
        outputGone: () => this.close(),
      },
      { noColor: settings.noColor, readsInput: settings.execute.length === 0 },
    );
  }

  run(): Promise<number> {
    const { settings } = this;
    let ws: WebSocket;
    try {
      ws = new WebSocket(settings.url, settings.protocols, settings.options);
    } catch (error) {
      // A bad URL, subprotocol or header value: the user's to fix.
      this.console.dispose();
      this.console.note(`wavecast connect: ${(error as Error).message}\nRun "wavecast connect --help" for usage.`, 'red');
      return Promise.resolve(EXIT_USAGE);
    }
    this.ws = ws;
    this.firstUrl = ws.url;
    ws.on('open', () => this.onOpen());
    showTraffic(ws, this.console, settings.showPingPong, () =>
      settings.verbose && this.lastPingAt > 0 ? ` (${Date.now() - this.lastPingAt} ms after our ping)` : '',
    );
    ws.on('error', (error: Error) => {
      this.error ??= error;
    });
    ws.on('unexpected-response', (_request: unknown, response: IncomingMessage) => this.onRefused(response));
    ws.on('close', (code: number, reason: Buffer) => this.finish(code, reason.toString('utf8')));
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
    if (ws.url !== this.firstUrl) line += ` (redirected from ${this.firstUrl})`;
    if (ws.protocol !== '') line += ` (subprotocol ${ws.protocol})`;
    if (this.console.interactive) line += '; Ctrl-C or Ctrl-D closes it';
    this.console.note(line, 'green');
    if (settings.verbose && ws.extensions !== '') this.console.note(`extensions: ${ws.extensions}`, 'grey');
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
    } else {
      this.console.startInput();
    }
  }

  private onRefused(response: IncomingMessage): void {
    const refusal: Refusal = {
      status: response.statusCode ?? 0,
      statusText: response.statusMessage ?? '',
      headers: response.headers,
      body: '',
    };
    this.refusal = refusal;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      refusal.body += chunk;
      // Enough to show its first line: the rest of a large page is not waited for.
      if (refusal.body.length >= REFUSAL_BODY_LIMIT) response.destroy();
    });
    response.on('error', () => {});
  }

  // ------------------------------------------------------------ input

  private onLine(text: string): void {
    const ws = this.ws!;
    if (this.settings.slash && /^\/ping\b/.test(text)) this.lastPingAt = Date.now();
    deliverLine(ws, this.console, text, {
      slash: this.settings.slash,
      closing: () => {
        this.weClosed = true;
        this.stopWaiting();
      },
    });
  }

  // ------------------------------------------------------------ closing

  /** Closes after `seconds` (-1: never; the server or Ctrl-C ends it). */
  private closeAfter(seconds: number): void {
    if (seconds < 0) return;
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
    this.stopWaiting();
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
      this.console.note('closing handshake abandoned', 'yellow');
      ws.terminate();
      return;
    }
    this.close();
  }

  private stopWaiting(): void {
    if (this.waitTimer !== null) {
      clearTimeout(this.waitTimer);
      this.waitTimer = null;
    }
    this.console.stopInput();
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.stopWaiting();
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    const status = this.report(code, reason);
    this.console.dispose();
    this.resolve(status);
  }

  /** Prints how the connection ended; returns the exit status. */
  private report(code: number, reason: string): number {
    const error = this.error;
    if (!this.opened) {
      if (this.interrupted) {
        this.console.note('interrupted before the connection opened', 'yellow');
        return EXIT_INTERRUPTED;
      }
      const { settings } = this;
      const failure = describeFailure({
        url: this.ws!.url,
        error,
        refusal: this.refusal,
        handshakeTimeout: settings.handshakeTimeout,
        followRedirects: settings.options.followRedirects === true,
        maxRedirects: settings.options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
        protocolVersion: settings.options.protocolVersion ?? 13,
      });
      this.console.note(`wavecast connect: ${failure}`, 'red');
      return EXIT_FAILURE;
    }
    if (code === 1006) {
      let line = 'connection lost: 1006 (abnormal closure: no close frame)';
      if (this.weClosed && error === null) line += `; the server did not answer our close frame (we wait ${CLOSE_TIMEOUT_MS / 1000} s)`;
      else if (error !== null) line += `: ${error.message}`;
      this.console.note(line, 'red');
      return EXIT_FAILURE;
    }
    const normal = isNormalClose(code);
    let line = `closed: ${describeClose(code, visible(reason))}`;
    if (error !== null) line += ` — ${error.message}`;
    this.console.note(line, normal ? 'green' : 'red');
    return normal ? EXIT_OK : EXIT_FAILURE;
  }
}
