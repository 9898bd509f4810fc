// One channel's kept messages, laid out so that keeping them makes no objects on the JavaScript heap: one
// Buffer holds the numbers of each message (time, where its bytes are, their length, binary or text) in a
// ring of slots, then the payloads in a byte ring; the publishers' ids (strings the connections already
// hold) are in one array. A message kept for a while (history lives seconds
// to hours) would otherwise be a few objects that survive the young generation's collections and are
// copied and promoted by each (measured on the relay at 5,000 messages a second: 3 to 5 ms per scavenge and
// a p99 of 12 ms, against 5 ms with history off). Messages are kept in order, with no hole: the kept ones
// are always the channel's newest `count` sequence numbers.
import type { StoredMessage } from './history.js';

/** Bytes of numbers per message in the slot ring: time, payload offset, payload length * 2 + binary. */
const SLOT = 24;
/** Bytes each message slot costs: its numbers and its place in the publishers' array. */
export const ENTRY_BYTES = SLOT + 8;
/** Fewest message slots a log holds once it keeps something. */
const MIN_ENTRIES = 1;
/** Smallest byte ring a log holds once it keeps a payload. */
const MIN_RING = 16;

/**
 * A channel's log. Its memory is one Buffer (one allocation, made again only when the log grows or shrinks
 * by a good part): `_slots` slots of numbers (a ring, the oldest at `_first`), then the byte ring of the
 * payloads, which lie in order from the oldest's offset to `_tail`, going round its end at most once.
 */
export class MessageLog {
  /** The newest sequence number handed out (kept or not). */
  seq: number;
  /** When the newest message was appended (ms). */
  last = 0;
  private _count = 0;
  /** Slot of the oldest kept message. */
  private _first = 0;
  private _slots = 0;
  private _ringSize = 0;
  private _store: Buffer | null = null;
  private _from: (string | undefined)[] | null = null;
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
    return this._slots * ENTRY_BYTES + this._ringSize;
  }

  /** The sequence number of the oldest kept message (`seq + 1` when none is kept). */
  get firstSeq(): number {
    return this.seq - this._count + 1;
  }

  /** When the oldest kept message was appended (ms; Infinity when none is kept). */
  get oldestTime(): number {
    return this._count === 0 ? Number.POSITIVE_INFINITY : this._store!.readDoubleLE(this._first * SLOT);
  }

  /** Capacity (bytes) that keeping a message of `length` bytes now would add: 0 when it fits as things are. */
  growthFor(length: number): number {
    let growth = 0;
    if (this._count === this._slots) growth += (this._slotsFor(this._count + 1) - this._slots) * ENTRY_BYTES;
    if (length > 0 && this._place(length) < 0) growth += this._ringFor(this._bytes + length) - this._ringSize;
    return growth;
  }

  /** Keeps the message `seq` (the caller has numbered it: `seq` is this log's newest). */
  push(time: number, data: Uint8Array, binary: boolean, from: string | undefined): void {
    const length = data.length;
    const fullSlots = this._count === this._slots;
    let at = length > 0 ? this._place(length) : this._tail;
    if (fullSlots || at < 0) {
      this._rebuild(
        fullSlots ? this._slotsFor(this._count + 1) : this._slots,
        at < 0 ? this._ringFor(this._bytes + length) : this._ringSize,
      );
      at = length > 0 ? this._place(length) : this._tail;
    }
    const store = this._store!;
    if (length > 0) {
      store.set(data, this._slots * SLOT + at);
      this._tail = at + length;
      this._bytes += length;
    }
    const slot = this._slotOf(this._count);
    const i = slot * SLOT;
    store.writeDoubleLE(time, i);
    store.writeDoubleLE(at, i + 8);
    store.writeDoubleLE(length * 2 + (binary ? 1 : 0), i + 16);
    if (from !== undefined || this._from !== null) {
      this._from ??= new Array<string | undefined>(this._slots).fill(undefined);
      this._from[slot] = from;
    }
    this._count++;
  }

  /** Drops the oldest kept message; what no longer needs the memory gives it back. */
  dropOldest(): void {
    if (this._count === 0) return;
    const length = this._length(this._first);
    if (this._from !== null) this._from[this._first] = undefined;
    this._first = this._slotOf(1);
    this._count--;
    this._bytes -= length;
    if (this._count === 0) {
      this.clear();
      return;
    }
    // Slots or ring a quarter used or less: they shrink to what is left, with the room they grow by.
    const slots = this._slots > MIN_ENTRIES && this._count * 4 <= this._slots ? this._slotsFor(this._count) : this._slots;
    const ring =
      this._bytes === 0 ? 0 : this._ringSize > MIN_RING && this._bytes * 4 <= this._ringSize ? this._ringFor(this._bytes) : this._ringSize;
    if (slots !== this._slots || ring !== this._ringSize) this._rebuild(slots, ring);
  }

  /** Drops every kept message and gives back all the memory. */
  clear(): void {
    this._count = 0;
    this._first = 0;
    this._bytes = 0;
    this._tail = 0;
    this._slots = 0;
    this._ringSize = 0;
    this._store = null;
    this._from = null;
  }

  /** The kept messages of `channel` numbered above `since`, oldest first, their data copies (the ring is reused). */
  after(channel: string, since: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    const store = this._store;
    if (this._count === 0 || store === null) return out;
    const first = this.firstSeq;
    const ring = this._slots * SLOT;
    for (let k = Math.max(0, since - first + 1); k < this._count; k++) {
      const slot = this._slotOf(k);
      const i = slot * SLOT;
      const at = ring + store.readDoubleLE(i + 8);
      const word = store.readDoubleLE(i + 16);
      const length = Math.floor(word / 2);
      const message: StoredMessage = {
        channel,
        seq: first + k,
        time: store.readDoubleLE(i),
        data: length === 0 ? Buffer.alloc(0) : Buffer.from(store.subarray(at, at + length)),
        binary: word % 2 === 1,
      };
      const from = this._from?.[slot];
      if (from !== undefined) message.from = from;
      out.push(message);
    }
    return out;
  }

  /** The slot of the k-th kept message (0: the oldest). */
  private _slotOf(k: number): number {
    return (this._first + k) % this._slots;
  }

  /** The payload length of the message in `slot`. */
  private _length(slot: number): number {
    return Math.floor(this._store!.readDoubleLE(slot * SLOT + 16) / 2);
  }

  /** Where a payload of `length` bytes (> 0) fits in the byte ring as it is (-1: it does not). */
  private _place(length: number): number {
    const size = this._ringSize;
    if (this._bytes === 0) return length <= size ? 0 : -1;
    // The oldest message's offset: where its payload starts, or for an empty one where the ring's next
    // payload was to go when it came (every later payload lies from there on, round the end at most once),
    // so the free room computed from it is never more than there is.
    const head = this._store!.readDoubleLE(this._first * SLOT + 8);
    if (this._tail > head) {
      // Not wrapped: free after the tail, and before the oldest.
      if (this._tail + length <= size) return this._tail;
      return length <= head ? 0 : -1;
    }
    // Wrapped: free between the tail and the oldest.
    return this._tail + length <= head ? this._tail : -1;
  }

  private _slotsFor(count: number): number {
    let slots = MIN_ENTRIES;
    while (slots < count) slots *= 2;
    return Math.max(count, Math.min(slots, this.limit));
  }

  private _ringFor(bytes: number): number {
    return Math.max(MIN_RING, Math.ceil(bytes * 1.5));
  }

  /**
   * Moves the kept messages to a new store of `slots` slots and a byte ring of `ringSize` bytes: their
   * numbers from slot 0, their payloads one after another from the ring's start.
   */
  private _rebuild(slots: number, ringSize: number): void {
    // Its own memory, not a slice of Buffer's shared pool: a kept store would keep a whole pool block alive.
    const store = Buffer.allocUnsafeSlow(slots * SLOT + ringSize);
    const from = this._from === null ? null : new Array<string | undefined>(slots).fill(undefined);
    const old = this._store;
    let tail = 0;
    if (old !== null) {
      const oldRing = this._slots * SLOT;
      const ring = slots * SLOT;
      for (let k = 0; k < this._count; k++) {
        const slot = this._slotOf(k);
        const i = slot * SLOT;
        const length = this._length(slot);
        const at = old.readDoubleLE(i + 8);
        old.copy(store, k * SLOT, i, i + SLOT);
        store.writeDoubleLE(tail, k * SLOT + 8);
        if (length > 0) old.copy(store, ring + tail, oldRing + at, oldRing + at + length);
        tail += length;
        if (from !== null) from[k] = this._from![slot];
      }
    }
    this._store = store;
    this._from = from;
    this._slots = slots;
    this._ringSize = ringSize;
    this._first = 0;
    this._tail = tail;
  }
}
