// createWebSocketStream(ws, options): the Node.js streams API over a WebSocket, as `ws` documents it. What
// the peer sends is read from the Duplex (a text message as a string when the readable side is in object
// mode, otherwise its bytes); what is written to it is sent, one message per chunk; ending it closes the
// WebSocket with a closing handshake; destroying it terminates the WebSocket. Backpressure holds both ways:
// a reader that does not keep up pauses the WebSocket, and a write calls back once its message is written.
import { Duplex, type DuplexOptions } from 'node:stream';
import type { WebSocket } from './websocket.js';

class WebSocketDuplex extends Duplex {
  /** destroy() terminates the WebSocket, unless the WebSocket failed first (it is closing already). */
  #terminateOnDestroy = true;

  constructor(
    private readonly _ws: WebSocket,
    options: DuplexOptions | undefined,
  ) {
    // The writable side takes bytes (and strings), whatever the options say; 'close' is emitted once the
    // WebSocket has closed.
    super({ ...options, autoDestroy: false, emitClose: false, objectMode: false, writableObjectMode: false });
    const duplex = this;
    _ws.on('message', function onMessage(data: Buffer, isBinary: boolean) {
      if (!duplex.push(!isBinary && duplex.readableObjectMode ? data.toString() : data)) _ws.pause();
    });
    _ws.once('error', function onError(error: Error) {
      if (duplex.destroyed) return;
      // The WebSocket is closing already (a close frame is on its way): terminating it could cut that off.
      duplex.#terminateOnDestroy = false;
      duplex.destroy(error);
    });
    _ws.once('close', function onClose() {
      if (!duplex.destroyed) duplex.push(null);
    });
    this.on('end', function onEnd(this: WebSocketDuplex) {
      if (!this.destroyed && this.writableFinished) this.destroy();
    });
    this.on('error', function onStreamError(this: WebSocketDuplex, error: Error) {
      this.removeListener('error', onStreamError);
      this.destroy();
      // With no other listener, the error is thrown as an unhandled stream error would be.
      if (this.listenerCount('error') === 0) this.emit('error', error);
    });
  }

  override _read(): void {
    if (this._ws.isPaused) this._ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const ws = this._ws;
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => this._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const ws = this._ws;
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => this._final(callback));
      return;
    }
    // A client whose handshake failed never had a socket: its 'error' destroys this stream.
    const socket = ws._socket;
    if (socket === null) return;
    if (socket.writableFinished) {
      callback();
      if (this.readableEnded) this.destroy();
      return;
    }
    // 'end' follows once the WebSocket has closed (the readable side ends with its 'close').
    socket.once('finish', () => callback());
    ws.close();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const ws = this._ws;
    if (ws.readyState === ws.CLOSED) {
      callback(error);
      process.nextTick(emitClose, this);
      return;
    }
    let called = false;
    ws.once('error', (wsError: Error) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(error);
      process.nextTick(emitClose, this);
    });
    if (this.#terminateOnDestroy) ws.terminate();
  }
}

function emitClose(stream: Duplex): void {
  stream.emit('close');
}

/** A Duplex stream over `ws` (see the top of this file); `options` go to the Duplex constructor. */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  return new WebSocketDuplex(ws, options);
}
