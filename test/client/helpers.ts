// Shared pieces of the client tests: servers that answer the opening handshake however a test needs,
// and a recorder of the events a user would see.
import { createServer, type Server, type Socket } from 'node:net';
import { acceptKey } from '../../src/protocol/handshake.js';
import type { WebSocket } from '../../src/index.js';
import { listenHttp, once } from '../helpers/net.js';

export interface RawRequest {
  /** The request line and headers as sent. */
  text: string;
  headers: Record<string, string>;
  key: string;
  accept: string;
}

/**
 * A TCP server that reads one HTTP request per connection and writes what `respond` returns (nothing
 * when it returns null: the connection is left hanging), as latin1 so that frame bytes can follow the
 * head. For responses no real server would send.
 */
export async function rawServer(
  respond: (request: RawRequest, socket: Socket) => string | null,
): Promise<{ server: Server; port: number; requests: RawRequest[] }> {
  const requests: RawRequest[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const head = text.slice(0, end);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const key = headers['sec-websocket-key'] ?? '';
      const request = { text: head, headers, key, accept: acceptKey(key) };
      requests.push(request);
      const response = respond(request, socket);
      if (response !== null) socket.write(response, 'latin1');
    };
    socket.on('data', onData);
  });
  const port = await listenHttp(server);
  return { server, port, requests };
}

/** A 101 response for `request`, with `extra` header lines. */
export function switching(request: RawRequest, ...extra: string[]): string {
  return (
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${request.accept}`,
      ...extra,
    ].join('\r\n') + '\r\n\r\n'
  );
}

export interface Outcome {
  /** Event names in the order they came: 'open', 'error', 'close', 'unexpected-response'... */
  events: string[];
  error: Error | undefined;
  code: number;
  reason: string;
}

/** Waits for 'close', recording every event on the way. Rejects if 'close' does not come in time. */
export async function outcome(ws: WebSocket, timeoutMs = 5_000): Promise<Outcome> {
  const result: Outcome = { events: [], error: undefined, code: 0, reason: '' };
  ws.on('open', () => result.events.push('open'));
  ws.on('error', (error: Error) => {
    result.events.push('error');
    result.error = error;
  });
  const [code, reason] = await new Promise<[number, Buffer]>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out after ${timeoutMs} ms waiting for 'close' (events so far: ${result.events.join(', ') || 'none'})`));
    }, timeoutMs);
    ws.once('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      resolve([code, reason]);
    });
  });
  result.events.push('close');
  result.code = code;
  result.reason = reason.toString();
  return result;
}

/** Opens `ws`, or rejects with the error that stopped it. */
export async function opened(ws: WebSocket): Promise<WebSocket> {
  await once(ws, 'open');
  return ws;
}

/** A string of exactly `size` bytes (ASCII). */
export function textOfSize(size: number): string {
  return 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(size / 36)).slice(0, size);
}

/** `size` bytes of a pattern that no two sizes share at the same offsets. */
export function bytesOfSize(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + size) & 0xff;
  return out;
}

export const SIZES = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];
