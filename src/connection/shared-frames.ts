// Frames that one publish is still preparing for many connections (the frame of a compression shared by
// every recipient). Each recipient reserves its place in its ordered write path at once, with a slot;
// what it sends after that waits behind the slot until the frames are filled in, so nothing overtakes
// the publish. The frames are then written to every recipient, and freed once the last has them.
import type { SendQueue } from './send-queue.js';

/** Where a slot is in its connection (see SendQueue#share). */
export const SlotState = {
  /** In the connection's send queue, behind something still under way. */
  Queued: 0,
  /** Held back while a fragmented message of the connection is unfinished. */
  Held: 1,
  /** First in line: the connection writes nothing until the frames are filled in. */
  Head: 2,
  /** Written, or dropped because the connection went. */
  Done: 3,
} as const;
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

/** One recipient's place for the frames of a SharedFrames. */
export class SharedSlot {
  state: SlotStateValue = SlotState.Queued;

  constructor(
    readonly shared: SharedFrames,
    /** The ordered send path of the connection the slot belongs to. */
    readonly queue: SendQueue,
    /** The bytes this slot counts in its connection's queue: the estimate, then the real size. */
    public counted: number,
  ) {}
}

export class SharedFrames {
  /** The frames, once filled in; null until then. */
  frames: Buffer[] | null = null;
  /** Their size in bytes: until they are filled in, an upper bound given by the publisher. */
  bytes: number;
  private _slots: SharedSlot[] | null = [];

  constructor(estimate: number) {
    this.bytes = estimate;
  }

  /** How many connections reserved a place and have not been told the frames yet. */
  get waiting(): number {
    return this._slots?.length ?? 0;
  }

  /** @internal Called by SendQueue#share: a place in `queue`. */
  _reserve(queue: SendQueue): SharedSlot {
    const slot = new SharedSlot(this, queue, this.bytes);
    this._slots!.push(slot);
    return slot;
  }

  /**
   * Fills in the frames (at most `bytes` estimated) and tells every connection that reserved a place:
   * each corrects its queued bytes, and the ones waiting for them write them now. Called once.
   */
  fill(frames: Buffer[], bytes: number): void {
    const slots = this._slots;
    if (slots === null) throw new Error('SharedFrames filled twice');
    this._slots = null;
    this.frames = frames;
    this.bytes = bytes;
    for (const slot of slots) slot.queue._filled(slot);
  }
}
