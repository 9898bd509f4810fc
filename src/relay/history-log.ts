// One channel's kept messages, laid out so that keeping them makes no objects on the JavaScript heap: the
// numbers of each message (time, where its bytes are, their length, binary or text) in one Float64Array
// used as a ring, its payload in one byte ring shared by the channel's messages, and the publisher's id
// (a string the connection already holds) in one array. A message kept for a while (history lives seconds
// to hours) would otherwise be a few objects that survive the young generation's collections and are
// copied and promoted by each (measured on the relay at 5,000 messages a second: 3 to 5 ms per scavenge and
// a p99 of 12 ms, against 5 ms with history off). Messages are kept in order, with no hole: the kept ones
// are always the channel's newest `count` sequence numbers.

/** Numbers per message in the metadata ring: time, payload offset, payload length * 2 + binary. */
const STRIDE = 3;
/** Bytes each message slot costs: its three numbers and its slot in the publishers' array. */
export const ENTRY_BYTES = STRIDE * 8 + 8;
/** Fewest message slots a log holds once it keeps something. */
const MIN_ENTRIES = 1;
/** Smallest byte ring a log holds once it keeps a payload. */
const MIN_RING = 16;

/** What a kept message is, as the log reads it back. */
export interface LoggedMessage {
  seq: number;
  time: number;
  /** A copy: the ring's bytes are reused once the message is dropped. */
  data: Buffer;
  binary: boolean;
  from?: string;
}

export class MessageLog {
  /** The newest sequence number handed out (kept or not). */
  seq: number;
  /** When the newest message was appended (ms). */
  last = 0;
  private _count = 0;
  /** Slot of the oldest kept message in the metadata ring. */
  private _first = 0;
  private _meta: Float64Array | null = null;
  private _from: (string | undefined)[] | null = null;
  private _ring: Buffer | null = null;
  /** Where the next payload goes in the byte ring. */
  private _tail = 0;
  private _bytes = 0;

  constructor(
    seq: number,
    /** Most messages kept. */
    readonly limit: number,
    /** Longest a message is kept (ms; 0: no age limit). */
    readonly ttl: number,
  ) {
    this.seq = seq;
  }

  /** Messages kept. */
  get count(): number {
    return this._count;
  }

  /** Payload bytes kept. */
  get bytes(): number {
    return this._bytes;
  }

  /** Bytes of memory the log holds for messages: its slots and its byte ring, used or not. */
  get cost(): number {
    return (this._meta === null ? 0 : (this._meta.length / STRIDE) * ENTRY_BYTES) + (this._ring?.length ?? 0);
  }

  /** The sequence number of the oldest kept message (`seq + 1` when none is kept). */
  get firstSeq(): number {
    return this.seq - this._count + 1;
  }

  /** When the oldest kept message was appended (ms; Infinity when none is kept). */
  get oldestTime(): number {
    return this._count === 0 ? Number.POSITIVE_INFINITY : this._meta![this._first * STRIDE]!;
  }

  /** Capacity (bytes) that keeping a message of `length` bytes now would add: 0 when it fits as things are. */
  growthFor(length: number): number {
    const slots = this._meta === null ? 0 : this._meta.length / STRIDE;
    let growth = 0;
    if (this._count === slots) growth += (this._slotsFor(this._count + 1) - slots) * ENTRY_BYTES;
    if (length > 0 && this._place(length) < 0) growth += this._ringFor(this._bytes + length) - (this._ring?.length ?? 0);
    return growth;
  }

  /** Keeps the message `seq` (the caller has numbered it: `seq` is this log's newest). */
  push(time: number, data: Uint8Array, binary: boolean, from: string | undefined): void {
    const slots = this._meta === null ? 0 : this._meta.length / STRIDE;
    if (this._count === slots) this._resizeSlots(this._slotsFor(this._count + 1));
    const length = data.length;
    let at = this._tail;
    if (length > 0) {
      at = this._place(length);
      if (at < 0) {
        this._resizeRing(this._ringFor(this._bytes + length));
        at = this._tail;
      }
      this._ring!.set(data, at);
      this._tail = at + length;
      this._bytes += length;
    }
    const meta = this._meta!;
    const slot = (this._first + this._count) % (meta.length / STRIDE);
    const i = slot * STRIDE;
    meta[i] = time;
    meta[i + 1] = at;
    meta[i + 2] = length * 2 + (binary ? 1 : 0);
    if (from !== undefined || this._from !== null) {
      this._from ??= new Array<string | undefined>(meta.length / STRIDE).fill(undefined);
      this._from[slot] = from;
    }
    this._count++;
  }

  /** Drops the oldest kept message; what no longer needs the memory gives it back. */
  dropOldest(): void {
    if (this._count === 0) return;
    const meta = this._meta!;
    const slots = meta.length / STRIDE;
    const length = Math.floor(meta[this._first * STRIDE + 2]! / 2);
    if (this._from !== null) this._from[this._first] = undefined;
    this._first = (this._first + 1) % slots;
    this._count--;
    this._bytes -= length;
    if (this._count === 0) {
      this.clear();
      return;
    }
    if (this._bytes === 0) {
      this._ring = null;
      this._tail = 0;
    } else if (this._ring !== null && this._ring.length > MIN_RING && this._bytes * 4 <= this._ring.length) {
      this._resizeRing(this._ringFor(this._bytes));
    }
    if (slots > MIN_ENTRIES && this._count * 4 <= slots) this._resizeSlots(this._slotsFor(this._count));
  }

  /** Drops every kept message and gives back all the memory. */
  clear(): void {
    this._count = 0;
    this._first = 0;
    this._bytes = 0;
    this._tail = 0;
    this._meta = null;
    this._from = null;
    this._ring = null;
  }

  /** The kept messages numbered above `since`, oldest first, as copies. */
  after(since: number): LoggedMessage[] {
    const out: LoggedMessage[] = [];
    if (this._count === 0) return out;
    const meta = this._meta!;
    const slots = meta.length / STRIDE;
    const first = this.firstSeq;
    for (let k = Math.max(0, since - first + 1); k < this._count; k++) {
      const slot = (this._first + k) % slots;
      const i = slot * STRIDE;
      const at = meta[i + 1]!;
      const length = Math.floor(meta[i + 2]! / 2);
      const message: LoggedMessage = {
        seq: first + k,
        time: meta[i]!,
        data: length === 0 ? Buffer.alloc(0) : Buffer.from(this._ring!.subarray(at, at + length)),
        binary: meta[i + 2]! % 2 === 1,
      };
      const from = this._from?.[slot];
      if (from !== undefined) message.from = from;
      out.push(message);
    }
    return out;
  }

  /**
   * Where a payload of `length` bytes fits in the ring as it is (-1: it does not). The kept payloads lie
   * in order from the oldest's offset to `_tail`, going round the end of the ring at most once.
   */
  private _place(length: number): number {
    const ring = this._ring;
    if (ring === null) return -1;
    if (this._bytes === 0) return length <= ring.length ? 0 : -1;
    const head = this._oldestPayloadOffset();
    if (this._tail > head) {
      // Not wrapped: free after the tail, and before the oldest.
      if (this._tail + length <= ring.length) return this._tail;
      return length <= head ? 0 : -1;
    }
    // Wrapped: free between the tail and the oldest.
    return this._tail + length <= head ? this._tail : -1;
  }

  /** The offset of the oldest kept payload that has bytes (the log keeps some). */
  private _oldestPayloadOffset(): number {
    const meta = this._meta!;
    const slots = meta.length / STRIDE;
    for (let k = 0; k < this._count; k++) {
      const i = ((this._first + k) % slots) * STRIDE;
      if (meta[i + 2]! >= 2) return meta[i + 1]!;
    }
    return this._tail;
  }

  private _slotsFor(count: number): number {
    let slots = MIN_ENTRIES;
    while (slots < count) slots *= 2;
    return Math.max(count, Math.min(slots, this.limit));
  }

  private _ringFor(bytes: number): number {
    return Math.max(MIN_RING, Math.ceil(bytes * 1.5));
  }

  /** Moves the kept messages' numbers to a ring of `slots` slots, oldest first. */
  private _resizeSlots(slots: number): void {
    const meta = new Float64Array(slots * STRIDE);
    const from = this._from === null ? null : new Array<string | undefined>(slots).fill(undefined);
    const old = this._meta;
    if (old !== null) {
      const oldSlots = old.length / STRIDE;
      for (let k = 0; k < this._count; k++) {
        const slot = (this._first + k) % oldSlots;
        meta.set(old.subarray(slot * STRIDE, slot * STRIDE + STRIDE), k * STRIDE);
        if (from !== null) from[k] = this._from![slot];
      }
    }
    this._meta = meta;
    this._from = from;
    this._first = 0;
  }

  /** Moves the kept payloads to a new ring of `size` bytes, one after another from its start. */
  private _resizeRing(size: number): void {
    // Its own memory, not a slice of Buffer's shared pool: a kept ring would keep a whole pool block alive.
    const ring = Buffer.allocUnsafeSlow(size);
    let tail = 0;
    const meta = this._meta;
    if (meta !== null && this._ring !== null) {
      const slots = meta.length / STRIDE;
      for (let k = 0; k < this._count; k++) {
        const i = ((this._first + k) % slots) * STRIDE;
        const at = meta[i + 1]!;
        const length = Math.floor(meta[i + 2]! / 2);
        if (length > 0) this._ring.copy(ring, tail, at, at + length);
        meta[i + 1] = tail;
        tail += length;
      }
    }
    this._ring = ring;
    this._tail = tail;
  }
}
