// A WebSocket to one channel that comes back by itself: when the connection drops, it reconnects after
// a delay that grows with each failure (see reconnectDelay), and says what it is doing through `onstate`.

import { reconnectDelay } from './chat-message.js';

export type SocketState =
  | { state: 'connecting'; attempt: number }
  | { state: 'open'; reconnected: boolean }
  | { state: 'waiting'; delay: number; code: number; reason: string }
  | { state: 'stopped' };

export class ReconnectingSocket {
  onstate: (state: SocketState) => void = () => {};
  onmessage: (data: unknown) => void = () => {};

  private _socket: WebSocket | null = null;
  private _timer: number | null = null;
  private _attempt = 0;
  private _everOpened = false;
  private _stopped = false;

  constructor(private readonly _url: string) {}

  start(): void {
    this._stopped = false;
    this._connect();
  }

  /** Sends a text if the connection is open; false otherwise. */
  send(text: string): boolean {
    if (this._socket === null || this._socket.readyState !== WebSocket.OPEN) return false;
    this._socket.send(text);
    return true;
  }

  get open(): boolean {
    return this._socket !== null && this._socket.readyState === WebSocket.OPEN;
  }

  /** Closes for good (leaving the channel). */
  stop(): void {
    this._stopped = true;
    if (this._timer !== null) window.clearTimeout(this._timer);
    this._timer = null;
    const socket = this._socket;
    this._socket = null;
    if (socket !== null) {
      socket.onclose = null;
      socket.close(1000, 'Left the channel');
    }
    this.onstate({ state: 'stopped' });
  }

  /** Reconnects now instead of waiting out the delay (the browser came back online, say). */
  retryNow(): void {
    if (this._stopped || this._timer === null) return;
    window.clearTimeout(this._timer);
    this._timer = null;
    this._connect();
  }

  private _connect(): void {
    this.onstate({ state: 'connecting', attempt: this._attempt });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this._url);
    } catch {
      this._scheduleRetry(1006, 'Could not open a connection');
      return;
    }
    socket.binaryType = 'arraybuffer';
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this.onstate({ state: 'open', reconnected: this._everOpened });
      this._everOpened = true;
    };
    socket.onmessage = (event: MessageEvent) => this.onmessage(event.data);
    socket.onclose = (event: CloseEvent) => {
      if (this._socket !== socket) return;
      this._socket = null;
      if (!this._stopped) this._scheduleRetry(event.code, event.reason);
    };
  }

  private _scheduleRetry(code: number, reason: string): void {
    const delay = reconnectDelay(this._attempt++, Math.random());
    this.onstate({ state: 'waiting', delay, code, reason });
    this._timer = window.setTimeout(() => {
      this._timer = null;
      this._connect();
    }, delay);
  }
}
