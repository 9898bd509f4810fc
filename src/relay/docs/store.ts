// Where collaborative documents are kept between their sessions. A document is stored as a log of Yjs
// updates: each update is appended as it is applied, and the log is compacted now and then (and when the
// document is unloaded) into one update that merges all of it. Merging is Yjs's (Y.mergeUpdates): a
// store never interprets an update.
//
// Compaction in a store that several nodes write (PostgreSQL, Redis, NATS) reads the log, appends one
// update merging what it read with the state the caller holds, then deletes exactly the entries it read:
// an entry appended meanwhile by another node is kept, and a crash between the two steps leaves the same
// content twice, which Yjs merges as once.
import * as Y from 'yjs';

export interface DocStore {
  /** For logs: "files under ./wavecast-data", "PostgreSQL at postgres://…". */
  readonly description: string;
  /** The document's stored updates, oldest first (none: a new document). */
  load(doc: string): Promise<Uint8Array[]>;
  /** Appends one update to the document's log. */
  append(doc: string, update: Uint8Array): Promise<void>;
  /**
   * Replaces the document's log by one update: what is stored merged with `state` (the caller's whole
   * document, which may hold updates the log lacks). Resolves with the size of the stored update.
   */
  compact(doc: string, state: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** One update holding everything in `updates` (an empty update for none). */
export function mergeAll(updates: Uint8Array[]): Uint8Array {
  if (updates.length === 1) return updates[0]!;
  return Y.mergeUpdates(updates);
}

/** Whether an update changes nothing (no structs, no deletions): what a client with nothing new sends. */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0;
}
