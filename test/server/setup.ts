// Shared set-up for the server tests: a server on 127.0.0.1 with a free port, `ws` clients, and the
// server-side socket of each client.
import WsClient from 'ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type ServerOptions } from '../../src/server/websocket-server.js';
import type { WebSocket } from '../../src/connection/websocket.js';
import { once } from '../helpers/net.js';

export { WsClient };

export async function startServer(options: Omit<ServerOptions, 'port'> = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { wss, port: address.port };
}

/** Connects a `ws` client and resolves with it and its socket on the server side. */
export async function connectPair(
  wss: WebSocketServer,
  port: number,
  clientOptions: WsClient.ClientOptions = {},
  path = '/',
): Promise<{ client: WsClient; socket: WebSocket; request: IncomingMessage; auth: unknown }> {
  const accepted = once<[WebSocket, IncomingMessage, unknown]>(wss, 'connection');
  const client = new WsClient(`ws://127.0.0.1:${port}${path}`, clientOptions);
  const [[socket, request, auth]] = await Promise.all([accepted, once(client, 'open')]);
  return { client, socket, request, auth };
}

/** Collects the next `count` messages a client receives, as [text, isBinary] pairs. */
export function nextMessages(client: WsClient, count: number, timeoutMs = 5_000): Promise<Array<[string, boolean]>> {
  return new Promise((resolve, reject) => {
    const out: Array<[string, boolean]> = [];
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`got ${out.length} of ${count} messages: ${JSON.stringify(out)}`));
    }, timeoutMs);
    function onMessage(data: WsClient.RawData, isBinary: boolean) {
      out.push([Buffer.isBuffer(data) ? data.toString() : Buffer.concat(data as Buffer[]).toString(), isBinary]);
      if (out.length === count) {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(out);
      }
    }
    client.on('message', onMessage);
  });
}

/** Closes a client (if open) and waits until the server has seen the socket close. */
export async function closeAll(wss: WebSocketServer, ...clients: WsClient[]): Promise<void> {
  for (const client of clients) client.terminate();
  await wss.close({ timeout: 100 });
}
