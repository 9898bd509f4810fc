// UTF-8 validation (RFC 3629, Unicode table 3-7): whole messages go to buffer.isUtf8; text that arrives
// in pieces (fragments, or one frame across reads) goes through Utf8Validator, which fails on the first
// byte after which no valid continuation exists.
import { isUtf8 } from 'node:buffer';

export { isUtf8 };

/** Incremental validator. feed() returns false as soon as the bytes seen can no longer be valid UTF-8. */
export class Utf8Validator {
  /** Continuation bytes still expected for the current sequence. */
  private need = 0;
  /** Bounds of the next byte (tighter than 0x80..0xBF right after E0, ED, F0, F4). */
  private lower = 0x80;
  private upper = 0xbf;

  reset(): void {
    this.need = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** True while no sequence is left half-finished: the text so far is complete and valid. */
  get complete(): boolean {
    return this.need === 0;
  }

  feed(data: Uint8Array): boolean {
    const length = data.length;
    let i = 0;
    // Finish a sequence left open by the previous piece, byte by byte.
    while (this.need > 0 && i < length) {
      if (!this.step(data[i]!)) return false;
      i++;
    }
    if (i === length) return true;
    // The middle is checked by the native validator; a possibly incomplete sequence at the end is
    // stepped through by hand so that its state carries over to the next piece.
    let tail = length;
    for (let back = 1; back <= 3 && length - back >= i; back++) {
      const byte = data[length - back]!;
      if ((byte & 0xc0) !== 0x80) {
        const expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
        if (expected > back) tail = length - back;
        break;
      }
    }
    if (tail > i && !isUtf8(data.subarray(i, tail))) return false;
    for (let j = tail; j < length; j++) if (!this.step(data[j]!)) return false;
    return true;
  }

  private step(byte: number): boolean {
    if (this.need === 0) {
      if (byte < 0x80) return true;
      if (byte >= 0xc2 && byte <= 0xdf) {
        this.need = 1;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        this.need = 2;
        if (byte === 0xe0) this.lower = 0xa0;
        else if (byte === 0xed) this.upper = 0x9f;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        this.need = 3;
        if (byte === 0xf0) this.lower = 0x90;
        else if (byte === 0xf4) this.upper = 0x8f;
      } else {
        return false;
      }
      return true;
    }
    if (byte < this.lower || byte > this.upper) return false;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.need--;
    return true;
  }
}
