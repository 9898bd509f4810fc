// The authenticate hook: async, refuses with a status and body, and hands what it resolved to the
// connection handler. ws's verifyClient keeps working beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { UpgradeRejection } from '../../src/server/admission.js';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import type { WebSocket } from '../../src/connection/websocket.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { rawSocket, readHttpResponse, upgradeRequest } from '../helpers/raw-ws.js';
import { closeAll, connectPair, startServer } from './setup.js';

async function upgradeResponse(port: number, path: string, headers: Record<string, string> = {}) {
  const socket = await rawSocket(port);
  const response = readHttpResponse(socket);
  socket.write(upgradeRequest(path, headers));
  return response;
}

/** A hook that looks the token up in the query string, the way a real one would ask a database. */
async function authenticate(request: IncomingMessage): Promise<{ user: string }> {
  await new Promise((resolve) => setImmediate(resolve));
  const token = new URL(request.url ?? '/', 'http://x').searchParams.get('token');
  if (token === 'ana-token') return { user: 'ana' };
  if (token === 'busy') throw { status: 429, body: 'Too many attempts', headers: { 'Retry-After': 5 } };
  if (token === 'bug') throw new Error('database down');
  if (token === 'no') return false as never;
  throw new UpgradeRejection(401, 'Unknown or expired token');
}

test('what an async hook resolves with reaches the connection handler', async () => {
  const { wss, port } = await startServer({ authenticate });
  const { client, socket, request, auth } = await connectPair(wss, port, {}, '/chat?token=ana-token');
  assert.deepEqual(auth, { user: 'ana' });
  assert.equal(request.url, '/chat?token=ana-token');
  assert.equal(socket.protocol, '');
  await closeAll(wss, client);
});

test('a hook refuses with the status, body and headers it chose', async () => {
  const { wss, port } = await startServer({ authenticate });
  const errors: unknown[] = [];
  wss.on('authError', (error: unknown, request: IncomingMessage) => errors.push([error, request.url]));

  const unknown = await upgradeResponse(port, '/?token=stolen');
  assert.equal(unknown.status, 401);
  assert.equal(unknown.body, 'Unknown or expired token');

  const busy = await upgradeResponse(port, '/?token=busy');
  assert.equal(busy.status, 429);
  assert.equal(busy.body, 'Too many attempts');
  assert.match(busy.head, /\r\nRetry-After: 5(\r\n|$)/);

  const no = await upgradeResponse(port, '/?token=no');
  assert.equal(no.status, 401);
  assert.equal(no.body, 'Unauthorized');

  assert.deepEqual(errors, []);
  const bug = await upgradeResponse(port, '/?token=bug');
  assert.equal(bug.status, 500);
  assert.equal(bug.body, 'Internal Server Error: the authentication hook failed');
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as unknown as [Error, string])[0].message, 'database down');
  assert.equal((errors[0] as unknown as [Error, string])[1], '/?token=bug');

  assert.equal(wss.stats.rejectedUpgrades, 4);
  assert.equal(wss.clients.size, 0);
  await wss.close({ timeout: 100 });
});

test('verifyClient runs first and the hook only for clients it let through', async () => {
  let hookCalls = 0;
  const { wss, port } = await startServer({
    verifyClient: (info: { req: IncomingMessage }) => !(info.req.url ?? '').includes('blocked'),
    authenticate: (request) => {
      hookCalls++;
      return authenticate(request);
    },
  });
  const blocked = await upgradeResponse(port, '/blocked?token=ana-token');
  assert.equal(blocked.status, 401);
  assert.equal(hookCalls, 0);
  const { client, auth } = await connectPair(wss, port, {}, '/?token=ana-token');
  assert.deepEqual(auth, { user: 'ana' });
  assert.equal(hookCalls, 1);
  await closeAll(wss, client);
});

test('in noServer mode, handleUpgrade calls back with the request and what the hook resolved', async () => {
  const wss = new WebSocketServer({ noServer: true, authenticate });
  const http = createServer();
  const accepted = new Promise<[WebSocket, IncomingMessage, unknown]>((resolve) => {
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      wss.handleUpgrade(request, socket, head, (ws, req, auth) => resolve([ws, req, auth]));
    });
  });
  const port = await listenHttp(http);
  const { WsClient } = await import('./setup.js');
  const client = new WsClient(`ws://127.0.0.1:${port}/?token=ana-token`);
  const [[ws, , auth]] = await Promise.all([accepted, once(client, 'open')]);
  assert.deepEqual(auth, { user: 'ana' });
  assert.equal(ws.readyState, ws.OPEN);
  client.terminate();
  await wss.close({ timeout: 100 });
  await closeServer(http);
});
