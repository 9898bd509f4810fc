// One open collaborative document: its Yjs document and awareness (y-protocols'), who has it open, and
// what the store has of it. Merging is Yjs's own; this file keeps the books around it: an estimate of
// the document's size (for the size bound), how much was appended to the store since it was last
// compacted, and whether it holds changes the store may lack (from other nodes).
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type { DocStore } from './store.js';

/** Origins of changes that are not a local connection's. */
export const FROM_STORE = Symbol('store');
export const FROM_CLUSTER = Symbol('cluster');
export const FROM_HTTP = Symbol('http');

/**
 * Compaction is due once this much, and at least the compacted size again, was appended, or this many
 * updates (a log of many small ones is slow to read back: NATS reads them one message at a time).
 */
export const COMPACT_AFTER_BYTES = 256 * 1024;
export const COMPACT_AFTER_UPDATES = 2000;
/** Documents whose encoding is at least this large keep it for the next newcomer. */
const WHOLE_CACHE_BYTES = 64 * 1024;

const EMPTY_STATE_VECTOR = Uint8Array.of(0);

export class SharedDoc {
  readonly ydoc = new Y.Doc({ gc: true });
  readonly awareness: Awareness;
  /** Connections and HTTP requests using it; at 0 it is stored and unloaded. */
  users = 0;
  /** Resolves once the stored updates are applied (rejects if they could not be read). */
  ready: Promise<void> = Promise.resolve();
  loaded = false;
  /** An estimate of the encoded document's size: exact after loading or compacting, then grown by each update. */
  bytes = 0;
  /** Bytes appended to the store since the last compaction, and the size that compaction wrote. */
  appended = 0;
  appendedCount = 0;
  compacted = 0;
  /** Changes the store may lack: from other nodes (theirs to append), or an append that failed. */
  unstored = false;
  /** The last append to the store (an HTTP apply answers once it is stored). */
  lastAppend: Promise<void> = Promise.resolve();
  /** A compaction under way. */
  compacting: Promise<void> | null = null;
  /** The unload under way. */
  unloading: Promise<void> | null = null;
  /** The whole document as one update, kept for the next newcomer until the document changes (large documents only). */
  private _whole: Uint8Array | null = null;

  constructor(readonly name: string) {
    this.awareness = new Awareness(this.ydoc);
    // The relay itself has no cursor: only the editors' states are shared.
    this.awareness.setLocalState(null);
  }

  /** Applies what the store holds (before anyone uses the document). */
  restore(updates: Uint8Array[]): void {
    if (updates.length === 0) return;
    const merged = updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
    Y.applyUpdate(this.ydoc, merged, FROM_STORE);
    this.bytes = merged.length;
    this.compacted = merged.length;
  }

  /**
   * Whether an update of `size` bytes keeps the document within `max` bytes. The running estimate only
   * grows (deletions do not shrink it), so when it says no, the exact size is measured first.
   */
  fits(size: number, max: number): boolean {
    if (this.bytes + size <= max) return true;
    this.bytes = Y.encodeStateAsUpdate(this.ydoc).length;
    return this.bytes + size <= max;
  }

  /**
   * What an editor whose state vector is `stateVector` lacks. A newcomer with nothing (a page just
   * opened) gets the whole document: for a large one that is encoded once for every newcomer until it
   * changes, not once each.
   */
  missing(stateVector: Uint8Array): Uint8Array {
    if (stateVector.length !== 1 || stateVector[0] !== 0) return Y.encodeStateAsUpdate(this.ydoc, stateVector);
    if (this._whole !== null) return this._whole;
    const whole = Y.encodeStateAsUpdate(this.ydoc);
    if (whole.length >= WHOLE_CACHE_BYTES) this._whole = whole;
    return whole;
  }

  /** The document changed: the whole document kept for newcomers is stale. */
  changed(size: number): void {
    this._whole = null;
    this.bytes += size;
  }

  get compactionDue(): boolean {
    return (this.appended >= COMPACT_AFTER_BYTES && this.appended >= this.compacted) || this.appendedCount >= COMPACT_AFTER_UPDATES;
  }

  /** Whether the store may lack something this document holds. */
  get dirty(): boolean {
    return this.appended > 0 || this.unstored;
  }

  /** Replaces the stored log by the whole document (one at a time). */
  compact(store: DocStore): Promise<void> {
    this.compacting ??= (async () => {
      try {
        const appended = this.appended;
        const appendedCount = this.appendedCount;
        const unstored = this.unstored;
        this.unstored = false;
        const state = this.missing(EMPTY_STATE_VECTOR);
        try {
          this.compacted = await store.compact(this.name, state);
        } catch (error) {
          this.unstored ||= unstored;
          throw error;
        }
        this.bytes = state.length;
        this.appended -= appended;
        this.appendedCount -= appendedCount;
      } finally {
        this.compacting = null;
      }
    })();
    return this.compacting;
  }

  destroy(): void {
    this.awareness.destroy();
    this.ydoc.destroy();
  }
}
