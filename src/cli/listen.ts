// `wavecast connect -l [HOST:]PORT`: wscat's listen mode. A WebSocket server for one client at a time
// (others are refused with 503 while it is connected): what the client sends is printed, the lines typed
// or piped in are sent to it. Piped input waits for a client, and when it ends the client is closed with
// 1000 and the command exits 0; on a terminal, Ctrl-C or Ctrl-D stops listening. A port that cannot be
// listened on is one line and exit status 1.
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from '../index.js';
import { describeClose, visible } from './connect-format.js';
import type { ListenSettings } from './connect-options.js';
import { LineConsole, type ConsoleIO } from './line-console.js';
import { deliverLine, showTraffic } from './socket-lines.js';

const BUSY = 'Busy: wavecast connect --listen serves one client at a time';

export function runListen(settings: ListenSettings, io: ConsoleIO): Promise<number> {
  return new ListenSession(settings, io).run();
}

class ListenSession {
  private readonly console: LineConsole;
  private wss: WebSocketServer | null = null;
  private client: WebSocket | null = null;
  /** Lines read while no client was connected (what piped input had read before it paused). */
  private pending: string[] = [];
  /** The input has ended, or Ctrl-C: stop once the client (if any) has closed. */
  private ending = false;
  private done = false;
  private resolve: (status: number) => void = () => {};

  constructor(
    private readonly settings: ListenSettings,
    io: ConsoleIO,
  ) {
    this.console = new LineConsole(
      io,
      {
        line: (text) => this.onLine(text),
        end: () => this.end(),
        interrupt: () => this.interrupt(),
        outputGone: () => this.end(),
      },
      { noColor: settings.noColor, readsInput: true },
    );
    // Piped input is read only while a client is there to take it.
    this.console.pause();
  }

  run(): Promise<number> {
    const { settings } = this;
    const offered = new Set(settings.protocols);
    const wss = new WebSocketServer({
      port: settings.port,
      ...(settings.host !== undefined ? { host: settings.host } : {}),
      clientTracking: false,
      handleProtocols: (protocols: Set<string>) => [...protocols].find((protocol) => offered.has(protocol)) ?? false,
      verifyClient: (_info: unknown, done: (ok: boolean, status?: number, message?: string) => void) =>
        this.client === null ? done(true) : done(false, 503, BUSY),
    });
    this.wss = wss;
    wss.on('listening', () => this.onListening());
    wss.on('error', (error: NodeJS.ErrnoException) => this.onServerError(error));
    wss.on('connection', (ws: WebSocket, request: IncomingMessage) => this.onConnection(ws, request));
    return new Promise<number>((resolve) => {
      this.resolve = resolve;
    });
  }

  private onListening(): void {
    const { port, address } = this.wss!.address() as { port: number; address: string };
    const host = this.settings.host === undefined ? 'localhost' : address.includes(':') ? `[${address}]` : address;
    const anywhere = this.settings.host === undefined ? ', on every interface' : '';
    this.console.note(
      `listening on ws://${host}:${port}/${anywhere} (${this.console.interactive ? 'Ctrl-C or Ctrl-D stops' : 'Ctrl-C stops'})`,
      'green',
    );
    this.console.startInput();
  }

  private onServerError(error: NodeJS.ErrnoException): void {
    const where = `${this.settings.host ?? 'every interface'}, port ${this.settings.port}`;
    const why =
      error.code === 'EADDRINUSE'
        ? `port ${this.settings.port} is already in use: stop what listens there, or pick another port with -l`
        : error.code === 'EACCES'
          ? `no permission to listen on ${where}${this.settings.port < 1024 ? ' (ports below 1024 need root)' : ''}: pick another port with -l`
          : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
            ? `${this.settings.host} is not an address of this machine`
            : `cannot listen on ${where}: ${error.message}`;
    this.console.note(`wavecast connect: ${why}`, 'red');
    this.stop(1);
  }

  private onConnection(ws: WebSocket, request: IncomingMessage): void {
    if (this.client !== null || this.done) {
      // Two upgrades at once both passed verifyClient: the later one goes.
      ws.close(1013, BUSY);
      return;
    }
    this.client = ws;
    const from = request.socket.remoteAddress ?? 'an unknown address';
    this.console.note(`client connected from ${visible(from)}${ws.protocol !== '' ? ` (subprotocol ${ws.protocol})` : ''}`, 'green');
    showTraffic(ws, this.console, this.settings.showPingPong);
    ws.on('error', () => {
      // Reported by the close that follows.
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.client = null;
      this.console.note(`client disconnected: ${describeClose(code, visible(reason.toString('utf8')))}`, code === 1006 ? 'red' : 'green');
      this.console.pause();
      if (this.ending) this.stop(0);
    });
    const pending = this.pending;
    this.pending = [];
    for (const line of pending) this.onLine(line);
    if (ws.readyState === ws.OPEN && !this.ending) this.console.resume();
    else if (this.ending) ws.close(1000);
  }

  private onLine(text: string): void {
    const client = this.client;
    if (client === null) {
      if (this.console.interactive) this.console.note('not sent: no client is connected', 'yellow');
      else this.pending.push(text);
      return;
    }
    deliverLine(client, this.console, text, { slash: this.settings.slash });
  }

  /** Ctrl-D or the end of the piped input: close the client (after what was sent) and stop. */
  private end(): void {
    if (this.ending) return;
    this.ending = true;
    this.console.stopInput();
    if (this.client !== null && this.pending.length === 0) this.client.close(1000);
    else if (this.client === null && this.pending.length === 0) this.stop(0);
    // Otherwise lines read before any client came wait for the next one, which gets them and is closed.
  }

  /** Ctrl-C, SIGINT or SIGTERM: as the end of input; a second time while the client closes, drop it. */
  private interrupt(): void {
    if (this.ending && this.client !== null) {
      this.console.note('closing handshake abandoned', 'yellow');
      this.client.terminate();
      return;
    }
    this.pending = [];
    this.end();
  }

  private stop(status: number): void {
    if (this.done) return;
    this.done = true;
    this.console.dispose();
    const wss = this.wss;
    if (wss === null) {
      this.resolve(status);
      return;
    }
    wss.close(() => this.resolve(status));
  }
}
