// The ordered send path of one connection, for the frames that cannot go to the socket at once: a message
// being compressed (zlib is asynchronous, and nothing sent after it may overtake it) or a Blob being read,
// what is sent while it is (frames, further compressions, the end of the socket), the places reserved for
// a publish's shared compression, and published frames held back while a fragmented message of ours is
// unfinished.
// A connection makes its SendQueue on first need and keeps it: an idle connection that never compressed
// nor had a publish wait pays for one null field, and a send on an idle queue goes straight to the socket
// (WebSocket#_writeNow) without coming here.
import { CloseCode } from '../protocol/close.js';
import { Opcode, encodeFrame } from '../protocol/frame.js';
import { ProtocolError } from '../protocol/parser.js';
import { SharedSlot, SlotState, type SharedFrames } from './shared-frames.js';
import { currentTurn } from './turn.js';
import type { WebSocket } from './websocket.js';

type SendCallback = ((error?: Error) => void) | undefined;

/** A message (or fragment) to compress, then send. */
export interface CompressionJob {
  data: Buffer;
  opcode: number;
  fin: boolean;
  masked: boolean;
  callback: SendCallback;
}
/** A Blob to read, then send (compressed or not) as a message, a fragment, a ping or a pong. */
export interface BlobJob {
  blob: Blob;
  /** Its size, counted as queued until it is read. */
  size: number;
  opcode: number;
  fin: boolean;
  masked: boolean;
  compress: boolean;
  callback: SendCallback;
}
/** Marks where the socket is to be ended in the queue. */
const END_SOCKET = Symbol('end');
type QueuedSend = CompressionJob | BlobJob | { frames: Buffer[]; length: number; callback: SendCallback } | SharedSlot | typeof END_SOCKET;

// What the callbacks of sends that never left are told, as `ws` words it.
const CLOSED_WHILE_COMPRESSING = 'The socket was closed while data was being compressed';
const CLOSED_WHILE_READING = 'The socket was closed while the blob was being read';

export class SendQueue {
  /** Bytes of messages being compressed or waiting in the queue (they count in bufferedAmount). */
  queuedBytes = 0;
  /** The turn (see turn.ts) in which _turnBytes were queued. */
  private _turn = -1;
  /** Bytes queued in turn _turn: the socket has not been offered them yet, so they are not backlog. */
  private _turnBytes = 0;
  /** While a compression (or a shared slot not filled in yet) is under way: what was sent after it, in order. */
  private _queue: QueuedSend[] | null = null;
  /** Published frames (or places for them) held back while a fragmented message of ours is unfinished. */
  private _held: { frames: Array<Buffer[] | SharedSlot>; bytes: number } | null = null;
  /** The compression or Blob read under way, until it calls back (or fail() calls its callback first). */
  private _current: CompressionJob | BlobJob | null = null;

  constructor(private readonly _ws: WebSocket) {}

  /** Whether something is under way that whatever is sent now must wait behind. */
  get busy(): boolean {
    return this._queue !== null;
  }

  /** Whether frames are held back behind an unfinished fragmented message. */
  get holding(): boolean {
    return this._held !== null;
  }

  /**
   * Of queuedBytes, those queued in the current turn (the rest are left over from earlier turns, the backlog).
   * The oldest leave the queue first, so this is at most queuedBytes.
   */
  get freshBytes(): number {
    return this._turn === currentTurn() ? Math.min(this._turnBytes, this.queuedBytes) : 0;
  }

  private _count(bytes: number): void {
    this.queuedBytes += bytes;
    const turn = currentTurn();
    if (this._turn !== turn) {
      this._turn = turn;
      this._turnBytes = 0;
    }
    this._turnBytes += bytes;
  }

  /** Bytes held back (not in bufferedAmount: the slow-client gate adds them). */
  get heldBytes(): number {
    return this._held?.bytes ?? 0;
  }

  /** Queues ready frames behind what is under way (only while busy). */
  push(frames: Buffer[], callback: SendCallback): void {
    let length = 0;
    for (const frame of frames) length += frame.length;
    this._count(length);
    this._queue!.push({ frames, length, callback });
  }

  /** Ends the socket once what is under way, and what was queued before, has been written (only while busy). */
  pushEnd(): void {
    this._queue!.push(END_SOCKET);
  }

  /**
   * Holds back published frames (or a slot for them), since a data frame may not interrupt a fragmented
   * message: they follow our final fragment (see flushHeld).
   */
  hold(item: Buffer[] | SharedSlot, bytes: number): void {
    this._held ??= { frames: [], bytes: 0 };
    this._held.frames.push(item);
    this._held.bytes += bytes;
  }

  /** Our fragmented message is finished: what was held back takes its turn in the ordered write path. */
  flushHeld(): void {
    const held = this._held!;
    this._held = null;
    for (const item of held.frames) {
      if (item instanceof SharedSlot) this._queueSlot(item);
      else this._ws._writeFrames(item);
    }
  }

  /**
   * Reserves the connection's place for frames that a publish is still preparing (a shared compression):
   * whatever is sent after this waits until they are filled in and written. Until then they count at the
   * publisher's estimate, then at their real size.
   */
  share(shared: SharedFrames, fragmenting: boolean): void {
    const slot = shared._reserve(this);
    if (fragmenting) {
      slot.state = SlotState.Held;
      this.hold(slot, slot.counted);
      return;
    }
    this._queueSlot(slot);
  }

  /** Puts a slot in the ordered write path: first in line (nothing is written until it is filled) or queued. */
  private _queueSlot(slot: SharedSlot): void {
    const frames = slot.shared.frames;
    if (frames !== null) {
      // Filled in while it was held back.
      slot.state = SlotState.Done;
      this._ws._writeFrames(frames);
      return;
    }
    this._count(slot.counted);
    if (this._queue !== null) {
      slot.state = SlotState.Queued;
      this._queue.push(slot);
    } else {
      slot.state = SlotState.Head;
      this._queue = [];
    }
  }

  /**
   * @internal Called by SharedFrames#fill for each slot: counts the frames at their real size, and
   * writes them (then what waited behind them) if they were what this connection was waiting for.
   */
  _filled(slot: SharedSlot): void {
    const state = slot.state;
    if (state === SlotState.Done) return;
    const ws = this._ws;
    if (ws._readyState === ws.CLOSED) {
      slot.state = SlotState.Done;
      return;
    }
    const bytes = slot.shared.bytes;
    if (state !== SlotState.Head) {
      if (state === SlotState.Queued) this.queuedBytes += bytes - slot.counted;
      else if (this._held !== null) this._held.bytes += bytes - slot.counted;
      slot.counted = bytes;
      return;
    }
    slot.state = SlotState.Done;
    this.queuedBytes -= slot.counted;
    const socket = ws._socket;
    // Not writable: the socket is going, and _socketClosed() fails what is queued.
    if (socket === null || !socket.writable) return;
    ws._writeNow(slot.shared.frames!);
    this._drain();
  }

  /** Compresses a message (or fragment) in its turn: nothing sent after it may overtake it. */
  compress(job: CompressionJob): void {
    this._count(job.data.length);
    if (this._queue !== null) {
      this._queue.push(job);
      return;
    }
    this._queue = [];
    this._compress(job);
  }

  /** Reads a Blob in its turn, then sends it: nothing sent after it may overtake it. */
  readBlob(job: BlobJob): void {
    this._count(job.size);
    if (this._queue !== null) {
      this._queue.push(job);
      return;
    }
    this._queue = [];
    this._readBlob(job);
  }

  private _readBlob(job: BlobJob): void {
    this._current = job;
    job.blob.arrayBuffer().then(
      (contents) => {
        // fail() has called it back already: the socket closed while the Blob was read.
        if (this._current !== job) return;
        this._current = null;
        this.queuedBytes -= job.size;
        const ws = this._ws;
        const socket = ws._socket;
        if (ws._readyState === ws.CLOSED || socket === null || !socket.writable) {
          process.nextTick(callBack, job.callback, new Error(CLOSED_WHILE_READING));
          return;
        }
        const data = Buffer.from(contents);
        if (job.compress) {
          this._count(data.length);
          this._compress({ data, opcode: job.opcode, fin: job.fin, masked: job.masked, callback: job.callback });
          return;
        }
        ws._writeNow(
          encodeFrame(data, { opcode: job.opcode, fin: job.fin, rsv1: false, maskKey: job.masked ? ws._maskKey() : null }),
          job.callback,
        );
        this._drain();
      },
      (error: Error) => {
        if (this._current !== job) return;
        // As in `ws`: the send's callback (and those queued after it) get the error, and the connection is
        // failed, on the next tick, out of the promise's reach.
        process.nextTick(() => {
          this._callBack(job.callback, error);
          this._ws._failSend(error);
        });
      },
    );
  }

  private _compress(job: CompressionJob): void {
    const ws = this._ws;
    this._current = job;
    ws._compression!.compress(job.data, job.fin, (error, result) => {
      // fail() has called it back already: the socket closed while it was being compressed.
      if (this._current !== job) return;
      this._current = null;
      this.queuedBytes -= job.data.length;
      const socket = ws._socket;
      if (ws._readyState === ws.CLOSED || socket === null || !socket.writable) {
        // The queue is failed by _socketClosed().
        job.callback?.(error ?? new Error(CLOSED_WHILE_COMPRESSING));
        return;
      }
      if (error) {
        job.callback?.(error);
        this.fail();
        ws._fail(new ProtocolError(error.message, CloseCode.InternalError, 'WS_ERR_DEFLATE'));
        return;
      }
      const rsv1 = job.opcode !== Opcode.Continuation;
      ws._writeNow(
        encodeFrame(result!, { opcode: job.opcode, fin: job.fin, rsv1, maskKey: job.masked ? ws._maskKey() : null }),
        job.callback,
      );
      this._drain();
    });
  }

  /** Writes what waited behind a finished compression (or a filled slot), up to the next one still under way. */
  private _drain(): void {
    const ws = this._ws;
    const queue = this._queue!;
    while (queue.length > 0) {
      const item = queue.shift()!;
      if (item === END_SOCKET) {
        ws._socket?.end();
      } else if (item instanceof SharedSlot) {
        const frames = item.shared.frames;
        if (frames === null) {
          // Still being prepared: _filled() carries on from here.
          item.state = SlotState.Head;
          return;
        }
        item.state = SlotState.Done;
        this.queuedBytes -= item.counted;
        ws._writeNow(frames);
      } else if ('frames' in item) {
        this.queuedBytes -= item.length;
        ws._writeNow(item.frames, item.callback);
      } else if ('blob' in item) {
        this._readBlob(item);
        return;
      } else {
        this._compress(item);
        return;
      }
    }
    this._queue = null;
  }

  /**
   * The socket has closed: calls back, at once and with an error, the send under way (a compression or a
   * Blob read) and what waited behind it, as `ws` does before 'close'.
   */
  fail(): void {
    if (this._queue === null) return;
    const current = this._current;
    this._callBack(current?.callback, new Error(current !== null && 'blob' in current ? CLOSED_WHILE_READING : CLOSED_WHILE_COMPRESSING));
  }

  /** Calls `first` and every callback still queued with `error`, emptying the queue. */
  private _callBack(first: SendCallback, error: Error): void {
    const queue = this._queue ?? [];
    this._current = null;
    this._queue = null;
    this.queuedBytes = 0;
    callBack(first, error);
    for (const item of queue) {
      if (item instanceof SharedSlot) item.state = SlotState.Done;
      else if (item !== END_SOCKET) callBack(item.callback, error);
    }
  }
}

function callBack(callback: SendCallback, error: Error): void {
  callback?.(error);
}
