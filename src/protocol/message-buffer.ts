// Gathers the pieces of one message that does not arrive in one chunk. Large pieces are kept as views of
// the chunks they came in (no copy until the end); small pieces are copied together into shared blocks,
// so a flood of tiny fragments costs bytes, not objects. The message is joined by one copy at the end,
// or not at all when it is one piece. A view keeps its whole chunk alive, so a piece is kept as a view
// only when it is at least half of the memory behind it: what a message keeps alive stays within about
// twice its size, however a peer lays its fragments out in its reads.

/** Pieces at least this big are kept as views; smaller ones are copied into a block. */
const VIEW_MIN = 4 * 1024;
/** Size of a block that small pieces are copied into. */
const BLOCK_SIZE = 16 * 1024;
const EMPTY = Buffer.alloc(0);

export class MessageBuffer {
  /** Bytes gathered so far. */
  length = 0;
  private pieces: Buffer[] = [];
  /** The block small pieces go into; `blockUsed` bytes of it are not yet in `pieces`. */
  private block: Buffer | null = null;
  private blockUsed = 0;

  /** Adds `piece`. The caller gives it up: it may be kept as a view. */
  add(piece: Buffer): void {
    const size = piece.length;
    if (size === 0) return;
    this.length += size;
    if (size >= VIEW_MIN) {
      this.flushBlock();
      this.pieces.push(size * 2 >= piece.buffer.byteLength ? piece : Buffer.from(piece));
      return;
    }
    let block = this.block;
    if (block === null || this.blockUsed + size > block.length) {
      this.flushBlock();
      block = this.block = Buffer.allocUnsafe(BLOCK_SIZE);
    }
    piece.copy(block, this.blockUsed);
    this.blockUsed += size;
  }

  /** The whole message (one copy at most); the buffer is then empty again. */
  take(): Buffer {
    this.flushBlock();
    const pieces = this.pieces;
    const length = this.length;
    const out = pieces.length === 0 ? EMPTY : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length);
    this.clear();
    return out;
  }

  clear(): void {
    this.pieces = [];
    this.length = 0;
    this.block = null;
    this.blockUsed = 0;
  }

  /** Moves the used part of the block into the list; the rest of the block stays in use for later pieces. */
  private flushBlock(): void {
    const block = this.block;
    if (block === null || this.blockUsed === 0) return;
    this.pieces.push(block.subarray(0, this.blockUsed));
    this.block = this.blockUsed < block.length ? block.subarray(this.blockUsed) : null;
    this.blockUsed = 0;
  }
}
