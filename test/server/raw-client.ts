// A hand-rolled WebSocket client over a raw TCP socket, for sending frames a real client never would.
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export interface ServerFrame {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

export interface RawClient {
  socket: Socket;
  /** Response head of the handshake. */
  response: string;
  /** Resolves with the next frame from the server. */
  nextFrame(): Promise<ServerFrame>;
  /** Resolves with the code of the server's close frame (or null when the TCP connection ended without one). */
  closeCode(): Promise<number | null>;
  /** Resolves when the server has closed the TCP connection. */
  ended: Promise<void>;
}

export async function rawConnect(port: number, path = '/'): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffered = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  let closed = false;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiters.splice(0).forEach((wake) => wake());
  });
  socket.on('close', () => {
    closed = true;
    waiters.splice(0).forEach((wake) => wake());
  });
  socket.on('error', () => {});
  const more = () => new Promise<void>((resolve) => waiters.push(resolve));

  while (buffered.indexOf('\r\n\r\n') === -1) {
    if (closed) throw new Error('connection closed during the handshake');
    await more();
  }
  const end = buffered.indexOf('\r\n\r\n');
  const response = buffered.subarray(0, end).toString();
  buffered = buffered.subarray(end + 4);
  const expected = createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
  if (!response.startsWith('HTTP/1.1 101') || !response.includes(expected)) throw new Error(`bad handshake response: ${response}`);

  async function nextFrame(): Promise<ServerFrame> {
    for (;;) {
      if (buffered.length >= 2) {
        let length = buffered[1]! & 0x7f;
        let offset = 2;
        if (length === 126 && buffered.length >= 4) {
          length = buffered.readUInt16BE(2);
          offset = 4;
        } else if (length === 127 && buffered.length >= 10) {
          length = Number(buffered.readBigUInt64BE(2));
          offset = 10;
        }
        if ((length < 126 || offset > 2) && buffered.length >= offset + length) {
          const frame = {
            opcode: buffered[0]! & 0x0f,
            fin: (buffered[0]! & 0x80) !== 0,
            payload: Buffer.from(buffered.subarray(offset, offset + length)),
          };
          buffered = buffered.subarray(offset + length);
          return frame;
        }
      }
      if (closed) throw new Error('connection closed before a whole frame arrived');
      await more();
    }
  }

  async function closeCode(): Promise<number | null> {
    for (;;) {
      let frame: ServerFrame;
      try {
        frame = await nextFrame();
      } catch {
        return null;
      }
      if (frame.opcode === 0x8) return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
    }
  }

  return { socket, response, nextFrame, closeCode, ended };
}

/** A masked client frame. */
export function clientFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  options: { fin?: boolean; rsv?: number; mask?: boolean } = {},
): Buffer {
  const data = Buffer.from(payload);
  const masked = options.mask ?? true;
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (data.length < 126) head.push(maskBit | data.length);
  else if (data.length < 65536) head.push(maskBit | 126, data.length >> 8, data.length & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((data.length >>> 24) & 0xff, (data.length >>> 16) & 0xff, (data.length >>> 8) & 0xff, data.length & 0xff);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const body = Buffer.from(data.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, body]);
}
