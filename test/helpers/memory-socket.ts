// A Duplex that keeps what is written to it, for tests that drive a connection without a network socket.
import { Duplex } from 'node:stream';

export class MemorySocket extends Duplex {
  /** What the connection wrote, in order. */
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
}
