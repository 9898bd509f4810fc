// What both modes of `wavecast connect` (connecting and listening) do between one WebSocket and the
// console: a line of input becomes a message (or, with --slash, a ping, a pong or a close), piped input
// waits while much is queued; received messages, pings and pongs are shown.
import type { WebSocket } from '../index.js';
import { visible } from './connect-format.js';
import type { LineConsole } from './line-console.js';
import { readSlash } from './slash.js';

/** Piped input stops being read while this many bytes wait to be sent, and resumes below the low mark. */
const INPUT_HIGH_WATER = 1 << 20;
const INPUT_LOW_WATER = 1 << 18;
const OPEN = 1;
const CLOSING = 2;

export interface LineOptions {
  slash: boolean;
  /** A /close was run: the closing handshake has started. */
  closing?: () => void;
}

/** Sends `text` as a message on `ws`, or runs it as a slash command; mistakes are noted, never thrown. */
export function deliverLine(ws: WebSocket, console: LineConsole, text: string, options: LineOptions): void {
  const command = options.slash ? readSlash(text) : { kind: 'send' as const, text };
  if (ws.readyState !== OPEN) {
    if (console.interactive)
      console.note(ws.readyState === CLOSING ? 'not sent: the connection is closing' : 'not sent: not connected', 'yellow');
    return;
  }
  try {
    switch (command.kind) {
      case 'send':
        ws.send(command.text, () => {
          if (console.isPaused && ws.bufferedAmount < INPUT_LOW_WATER) console.resume();
        });
        if (ws.bufferedAmount >= INPUT_HIGH_WATER) console.pause();
        break;
      case 'ping':
        ws.ping(command.data);
        break;
      case 'pong':
        ws.pong(command.data);
        break;
      case 'close':
        ws.close(command.code, command.reason);
        options.closing?.();
        break;
      case 'error':
        console.note(command.message, 'yellow');
        break;
    }
  } catch (error) {
    // A close code that may not be sent, a ping over 125 bytes...
    console.note(`${text.split(/\s/)[0]}: ${(error as Error).message}`, 'yellow');
  }
}

/** Prints what `ws` receives; with `showPingPong`, a status line for each ping and pong. */
export function showTraffic(
  ws: WebSocket,
  console: LineConsole,
  showPingPong: boolean,
  pongNote: (data: Buffer) => string = () => '',
): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => console.message(data, isBinary));
  if (!showPingPong) return;
  const payload = (data: Buffer) => (data.length > 0 ? `: ${visible(data.toString('utf8'))}` : '');
  ws.on('ping', (data: Buffer) => console.note(`ping received${payload(data)} (answered with a pong)`, 'grey'));
  ws.on('pong', (data: Buffer) => console.note(`pong received${pongNote(data)}${payload(data)}`, 'grey'));
}
