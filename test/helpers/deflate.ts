// Helpers for the permessage-deflate tests: test data (pseudo-random bytes, a decompression bomb) and a
// raw WebSocket peer that does the opening handshake by hand, so tests can send any bytes (bad RSV bits,
// a bomb, a corrupt stream) and see every frame the other side writes.
import { connect, type Socket } from 'node:net';
import { constants, createDeflateRaw } from 'node:zlib';
import { encodeFrame } from '../../src/protocol/frame.js';
import { acceptKey, generateKey } from '../../src/protocol/handshake.js';
import { once } from './net.js';

/** Deterministic pseudo-random bytes (xorshift32). */
export function noise(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A raw DEFLATE stream of `mebibytes` MiB of zeros, about 1 KiB per MiB, ending with 0x00 0x00 0xff
 * 0xff. Built from three sync-flushed MiB: once zlib's window is all zeros, every further MiB of zeros
 * compresses to the same bytes, so the rest is that piece repeated.
 */
export async function zeroBomb(mebibytes: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const pieces: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    pieces.push(
      await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const onData = (chunk: Buffer) => chunks.push(chunk);
        deflate.on('data', onData);
        deflate.once('error', reject);
        deflate.write(Buffer.alloc(1 << 20));
        deflate.flush(constants.Z_SYNC_FLUSH, () => {
          deflate.off('data', onData);
          resolve(Buffer.concat(chunks));
        });
      }),
    );
  }
  deflate.close();
  const [first, repeated, check] = pieces as [Buffer, Buffer, Buffer];
  if (!repeated.equals(check)) throw new Error('zlib did not compress a repeated MiB of zeros the same way twice');
  return Buffer.concat([first, ...Array<Buffer>(mebibytes - 1).fill(repeated)]);
}

export interface RawFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

/** A peer on a raw TCP socket: sends frames as given and splits what it receives into frames. */
export class RawPeer {
  readonly frames: RawFrame[] = [];
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(
    readonly socket: Socket,
    /** The response's status line and headers (names in lower case). */
    readonly status: string,
    readonly headers: Record<string, string>,
    head: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    if (head.length > 0) this.receive(head);
  }

  /** Sends one frame, masked (as a client must). */
  send(opcode: number, payload: Buffer, options: { fin?: boolean; rsv1?: boolean } = {}): void {
    const maskKey = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    for (const part of encodeFrame(payload, { opcode, fin: options.fin ?? true, rsv1: options.rsv1 ?? false, maskKey }))
      this.socket.write(part);
  }

  /** Resolves once `count` frames have arrived in all (or the socket closed first). */
  async waitForFrames(count: number, timeoutMs = 10_000): Promise<RawFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count && !this.ended) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${count} frames (got ${this.frames.length})`)),
          deadline - Date.now(),
        );
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames;
  }

  /** Resolves with the close frame's code (after the socket closes, or 1006 without a close frame). */
  async closeCode(timeoutMs = 10_000): Promise<number> {
    if (!this.ended) await once(this.socket, 'close', timeoutMs);
    const close = this.frames.find((f) => f.opcode === 0x8);
    if (close === undefined) return 1006;
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  private receive(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) break;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      if (buf.length < offset + length) break;
      this.frames.push({
        fin: (buf[0]! & 0x80) !== 0,
        rsv1: (buf[0]! & 0x40) !== 0,
        opcode: buf[0]! & 0x0f,
        payload: Buffer.from(buf.subarray(offset, offset + length)),
      });
      buf = buf.subarray(offset + length);
    }
    this.pending = Buffer.from(buf);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface Handshake {
  socket: Socket;
  /** The response's status line. */
  status: string;
  /** The response's headers, names in lower case. */
  headers: Record<string, string>;
  /** Bytes that came after the response head. */
  head: Buffer;
}

/**
 * Connects to 127.0.0.1:`port`, sends an opening handshake with the given Sec-WebSocket-Extensions value
 * (none when undefined) and resolves once the response head has arrived, with the socket paused. The
 * Sec-WebSocket-Accept value is checked when the status is 101.
 */
export async function handshake(port: number, extensions: string | undefined, path = '/'): Promise<Handshake> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const key = generateKey();
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let received = Buffer.alloc(0);
  for (;;) {
    const [chunk] = await once<[Buffer]>(socket, 'data');
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) continue;
    socket.pause();
    const [status, ...headerLines] = received.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (status!.includes(' 101 ') && headers['sec-websocket-accept'] !== acceptKey(key)) throw new Error('bad Sec-WebSocket-Accept');
    return { socket, status: status!, headers, head: received.subarray(end + 4) };
  }
}

/** A handshake as handshake() does it, then a RawPeer on the socket. */
export async function rawHandshake(port: number, extensions: string | undefined, path = '/'): Promise<RawPeer> {
  const hs = await handshake(port, extensions, path);
  const peer = new RawPeer(hs.socket, hs.status, hs.headers, hs.head);
  hs.socket.resume();
  return peer;
}
