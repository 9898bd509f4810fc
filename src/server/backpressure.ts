// The slow-client policy: bounds the backlog of each connection, whatever path writes to it (send,
// publish, broadcast). Over the bound, the connection is either closed (1008) or skipped (its messages
// dropped and counted) until its backlog is gone, when the server emits 'drain'.
import type { EventEmitter } from 'node:events';
import { CloseCode } from '../protocol/close.js';
import { WebSocket } from '../connection/websocket.js';
import type { ServerStats } from './stats.js';
import type { DeliveryGate } from './topics.js';

export type BackpressurePolicy = 'close' | 'drop';

/** @internal The server's slow-client policy (not part of the published API). */
export class SlowClientGate implements DeliveryGate {
  /** Connections over their bound under the 'drop' policy, with how many messages they have missed. */
  private readonly _backedUp = new Map<WebSocket, number>();

  constructor(
    private readonly _max: number,
    private readonly _policy: BackpressurePolicy,
    private readonly _server: EventEmitter,
    private readonly _stats: ServerStats,
  ) {}

  /**
   * The backlog of `ws`: bytes given to it that the operating system has not taken although it was offered
   * them. Its bufferedAmount (which leaves out frames corked for the current turn), less what waits behind a
   * compression since this turn (up to the bound: one turn cannot queue without limit either), plus
   * publishes held behind a fragmented send of ours. A publish whose shared compression is still running
   * counts at its uncompressed size (an upper bound); once compressed, at the size of its frame.
   * A peer that reads keeps this near 0 however much one turn sends it; one that stops makes it grow.
   */
  static backlog(ws: WebSocket, max = Infinity): number {
    const queue = ws._sendQueue;
    if (queue === null) return ws.bufferedAmount;
    return ws.bufferedAmount - Math.min(queue.freshBytes, max) + queue.heldBytes;
  }

  /**
   * Whether a message of `bytes` may be queued for `ws`. A message always goes to a connection with no
   * backlog (so one larger than the bound is not starved); otherwise only if it fits.
   */
  admit(ws: WebSocket, bytes: number): boolean {
    if (this._max === Infinity) return true;
    const backlog = SlowClientGate.backlog(ws, this._max);
    if (backlog === 0 || backlog + bytes <= this._max) return true;
    if (this._policy === 'close') {
      if (ws._readyState === WebSocket.OPEN) {
        this._stats.slowClientCloses++;
        ws.close(CloseCode.PolicyViolation, `Too slow: over ${this._max} bytes were waiting to be sent to this client`);
      }
      return false;
    }
    const before = this._backedUp.get(ws);
    const dropped = (before ?? 0) + 1;
    this._backedUp.set(ws, dropped);
    if (before === undefined) this._watchDrain(ws);
    this._stats.droppedMessages++;
    this._server.emit('drop', ws, dropped);
    return false;
  }

  /** Forgets a connection that has closed. */
  forget(ws: WebSocket): void {
    this._backedUp.delete(ws);
  }

  /** Learns when the backlog of `ws` is gone, and emits 'drain'. Only backed-up connections pay for this. */
  private _watchDrain(ws: WebSocket): void {
    ws._onceDrained((error?: Error) => {
      const dropped = this._backedUp.get(ws);
      this._backedUp.delete(ws);
      if (error || dropped === undefined || ws._readyState !== WebSocket.OPEN) return;
      this._server.emit('drain', ws, dropped);
    });
  }
}
