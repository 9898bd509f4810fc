// A WebSocket client made by hand on a net.Socket, for tests that need a peer which misbehaves on
// purpose: one that stops reading, never answers a ping or a close, or sends half a request.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { DEFAULT_TIMEOUT_MS, once } from './net.js';

export interface RawHandshake {
  socket: Socket;
  /** The response's status line and headers, as text. */
  head: string;
  status: number;
  /** Bytes that came after the response's blank line. */
  rest: Buffer;
}

/** Opens a TCP connection to 127.0.0.1:`port` (from `localAddress`, such as 127.0.0.2, when given). */
export async function rawSocket(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress !== undefined ? { localAddress } : {}) });
  await once(socket, 'connect');
  return socket;
}

/** The text of an upgrade request. */
export function upgradeRequest(path = '/', headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * Does the opening handshake by hand and then, unless `read` is true, stops reading from the socket
 * altogether: the kernel buffers fill and the server's queue for this client grows.
 */
export async function rawHandshake(port: number, options: { path?: string; headers?: Record<string, string> } = {}): Promise<RawHandshake> {
  const socket = await rawSocket(port);
  socket.write(upgradeRequest(options.path, options.headers));
  return readResponseHead(socket);
}

/** Reads up to the end of an HTTP response head, then pauses the socket. */
export function readResponseHead(socket: Socket, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawHandshake> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no HTTP response within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.pause();
      const head = buffered.subarray(0, end).toString('latin1');
      finish(null, { socket, head, status: Number(head.split(' ')[1]), rest: buffered.subarray(end + 4) });
    };
    const onClose = () =>
      finish(new Error(`the connection closed before a full response; got ${JSON.stringify(buffered.toString('latin1'))}`));
    function finish(error: Error | null, result?: RawHandshake) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(result!);
    }
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Reads a whole HTTP response (head and body) until the server closes the connection. */
export function readHttpResponse(socket: Socket): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      resolve({ status: Number(head.split(' ')[1]), head, body: end === -1 ? '' : text.slice(end + 4) });
    });
  });
}

export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Parses the unmasked frames a server sends; push() chunks in, get whole frames out. */
export class FrameReader {
  private _buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RawFrame[] {
    this._buffer = this._buffer.length === 0 ? chunk : Buffer.concat([this._buffer, chunk]);
    const frames: RawFrame[] = [];
    for (;;) {
      const b = this._buffer;
      if (b.length < 2) break;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if ((b[1]! & 0x80) !== 0) throw new Error('a server frame was masked');
      if (b.length < offset + length) break;
      frames.push({ fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(offset, offset + length)) });
      this._buffer = b.subarray(offset + length);
    }
    return frames;
  }
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (data.length > 125) throw new Error('clientFrame builds small frames only');
  const key = randomBytes(4);
  const out = Buffer.alloc(6 + data.length);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = 0x80 | data.length;
  key.copy(out, 2);
  for (let i = 0; i < data.length; i++) out[6 + i] = data[i]! ^ key[i & 3]!;
  return out;
}
