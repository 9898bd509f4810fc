// The slow-client policy: bounds the bytes a publish or broadcast may leave queued for one connection.
// Over the bound, the connection is either closed (1008) or skipped (its messages dropped and counted)
// until its queue has emptied, when the server emits 'drain'.
import type { EventEmitter } from 'node:events';
import { CloseCode } from '../protocol/close.js';
import { WebSocket } from '../connection/websocket.js';
import type { ServerStats } from './stats.js';
import type { DeliveryGate } from './topics.js';

export type BackpressurePolicy = 'close' | 'drop';

const EMPTY = Buffer.alloc(0);

export class SlowClientGate implements DeliveryGate {
  /** Connections over their bound under the 'drop' policy, with how many messages they have missed. */
  private readonly _backedUp = new Map<WebSocket, number>();

  constructor(
    private readonly _max: number,
    private readonly _policy: BackpressurePolicy,
    private readonly _events: EventEmitter,
    private readonly _stats: ServerStats,
  ) {}

  /**
   * Bytes queued for `ws` and not yet handed to the operating system: its bufferedAmount (which counts
   * what waits behind a compression, where there is one) and publishes held behind a fragmented send.
   * A publish whose shared compression is still running counts at its uncompressed size (an upper
   * bound); once compressed, at the size of its compressed frame.
   */
  static queued(ws: WebSocket): number {
    return ws.bufferedAmount + (ws._sendQueue?.heldBytes ?? 0);
  }

  /**
   * Whether a message of `bytes` may be queued for `ws`. A message always goes to a connection whose
   * queue is empty (so one larger than the bound is not starved); otherwise only if it fits.
   */
  admit(ws: WebSocket, bytes: number): boolean {
    const queued = SlowClientGate.queued(ws);
    if (queued === 0 || queued + bytes <= this._max) return true;
    if (this._policy === 'close') {
      this._stats.slowClientCloses++;
      ws.close(CloseCode.PolicyViolation, `Too slow: over ${this._max} bytes were waiting to be sent to this client`);
      return false;
    }
    const before = this._backedUp.get(ws);
    const dropped = (before ?? 0) + 1;
    this._backedUp.set(ws, dropped);
    if (before === undefined) this._watchDrain(ws);
    this._stats.droppedMessages++;
    this._events.emit('drop', ws, dropped);
    return false;
  }

  /** Forgets a connection that has closed. */
  forget(ws: WebSocket): void {
    this._backedUp.delete(ws);
  }

  /**
   * Learns when the queue of `ws` is empty: an empty write through the connection's ordered write path
   * calls back once everything sent before it has been handed to the operating system. Only backed-up
   * connections pay for this.
   */
  private _watchDrain(ws: WebSocket): void {
    if (ws._socket === null) return;
    ws._writeFrames([EMPTY], (error?: Error) => {
      if (error || ws._readyState !== WebSocket.OPEN || !this._backedUp.has(ws)) {
        this._backedUp.delete(ws);
        return;
      }
      if (ws.bufferedAmount > 0) {
        this._watchDrain(ws);
        return;
      }
      const dropped = this._backedUp.get(ws)!;
      this._backedUp.delete(ws);
      this._events.emit('drain', ws, dropped);
    });
  }
}
