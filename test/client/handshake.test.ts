// Every way the opening handshake can go wrong ends as a user expects: 'error' with a message saying what
// was wrong, then 'close' with 1006, and never an uncaught exception. Redirects are followed when asked,
// without carrying credentials to another host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ClientRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ClientOptions, type ErrorEvent } from '../../src/index.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { opened, outcome, rawServer, switching } from './helpers.js';
import { sameAsWs, trace } from '../helpers/ws-compat.js';

/**
 * Connects a `ws` client, then ours, to a server that answers with `respond`, and checks that both fail the
 * same way: 'error' with `message`, then 'close' with 1006.
 */
async function failsWith(
  respond: Parameters<typeof rawServer>[0],
  message: string,
  protocols?: string[],
  options?: ClientOptions,
): Promise<void> {
  const seen = await sameAsWs(async (impl) => {
    const { server, port } = await rawServer(respond);
    try {
      return await trace(new impl.WebSocket(`ws://127.0.0.1:${port}/`, protocols, options as never));
    } finally {
      await closeServer(server);
    }
  });
  assert.deepEqual(seen, [`error Error: ${message}`, 'close 1006']);
}

test('a wrong Sec-WebSocket-Accept fails the connection', async () => {
  await failsWith(
    (request) => switching({ ...request, accept: 'c29tZXRoaW5nIGVsc2UgZW50aXJlbHk=' }),
    'Invalid Sec-WebSocket-Accept header',
  );
});

test('a missing Sec-WebSocket-Accept fails the connection', async () => {
  await failsWith(
    () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'Invalid Sec-WebSocket-Accept header',
  );
});

test('a 101 without the Upgrade header is an unexpected response', async () => {
  await failsWith(
    (r) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${r.accept}\r\n\r\n`,
    'Unexpected server response: 101',
  );
});

test('a 101 without the Connection: Upgrade header is an unexpected response', async () => {
  await failsWith(
    (r) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${r.accept}\r\n\r\n`,
    'Unexpected server response: 101',
  );
});

test('a 101 with Upgrade: h2c fails the connection', async () => {
  await failsWith(
    (r) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${r.accept}\r\n\r\n`,
    'Invalid Upgrade header',
  );
});

test('a subprotocol that was not requested fails the connection', async () => {
  await failsWith((r) => switching(r, 'Sec-WebSocket-Protocol: evil'), 'Server sent an invalid subprotocol', ['chat']);
});

test('a subprotocol when none was requested fails the connection', async () => {
  await failsWith((r) => switching(r, 'Sec-WebSocket-Protocol: chat'), 'Server sent a subprotocol but none was requested');
});

test('an extension that was not offered fails the connection', async () => {
  await failsWith(
    (r) => switching(r, 'Sec-WebSocket-Extensions: x-webkit-deflate-frame'),
    'Server indicated an extension that was not requested',
  );
});

test('permessage-deflate accepted by the server when the client turned it off fails the connection', async () => {
  await failsWith(
    (r) => switching(r, 'Sec-WebSocket-Extensions: permessage-deflate'),
    'Server sent a Sec-WebSocket-Extensions header but no extension was requested',
    undefined,
    { perMessageDeflate: false },
  );
});

test('a malformed Sec-WebSocket-Extensions header fails the connection', async () => {
  await failsWith((r) => switching(r, 'Sec-WebSocket-Extensions: ;;'), 'Invalid Sec-WebSocket-Extensions header');
});

test('a valid 101 opens, and bytes sent right after it are the first message', async () => {
  const { server, port, requests } = await rawServer((r) => switching(r) + '\x81\x05hello');
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const [data, isBinary] = await once<[Buffer, boolean]>(socket, 'message');
  assert.equal(socket.readyState, WebSocket.OPEN);
  assert.deepEqual([data.toString(), isBinary], ['hello', false]);
  const request = requests[0]!;
  assert.match(request.text, /^GET \/ HTTP\/1\.1\r\n/);
  assert.equal(request.headers.upgrade, 'websocket');
  assert.equal(request.headers.connection, 'Upgrade');
  assert.equal(request.headers['sec-websocket-version'], '13');
  assert.match(request.key, /^[A-Za-z0-9+/]{22}==$/);
  socket.terminate();
  await once(socket, 'close');
  await closeServer(server);
});

test('handshakeTimeout: a server that never answers fails with a timeout error, then close 1006', async () => {
  const { server, port } = await rawServer(() => null);
  const started = Date.now();
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 150 }));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'Opening handshake has timed out');
  assert.equal(result.code, 1006);
  assert.ok(Date.now() - started >= 140, 'not before the timeout');
  await closeServer(server);
});

test('connection refused: error (ECONNREFUSED) then close 1006, in the browser face too', async () => {
  const probe = createServer();
  const port = await listenHttp(probe);
  await closeServer(probe);
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${port}/`));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal((result.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.equal(result.code, 1006);

  const browserFace = new WebSocket(`ws://127.0.0.1:${port}/`);
  const seen: string[] = [];
  const closed = new Promise<WebSocket.CloseEvent>((resolve) => {
    browserFace.onerror = (event: ErrorEvent) => seen.push(`error ${(event.error as NodeJS.ErrnoException).code}`);
    browserFace.onclose = resolve;
  });
  const event = await closed;
  assert.deepEqual(seen, ['error ECONNREFUSED']);
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
});

test('no error listener: a failed connection still only emits close, nothing is thrown', { timeout: 5_000 }, async () => {
  const probe = createServer();
  const port = await listenHttp(probe);
  await closeServer(probe);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  // Not the once() helper: it would listen for 'error' itself.
  const code = await new Promise<number>((resolve) => socket.once('close', resolve));
  assert.equal(socket.listenerCount('error'), 0);
  assert.equal(code, 1006);
});

test('a connection reset during the handshake: error then close 1006', async () => {
  const { server, port } = await rawServer((_request, socket) => {
    socket.resetAndDestroy();
    return null;
  });
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${port}/`));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.match((result.error as NodeJS.ErrnoException).code ?? result.error!.message, /ECONNRESET|socket hang up/);
  assert.equal(result.code, 1006);
  await closeServer(server);
});

test('a 302 without followRedirects is an unexpected response', async () => {
  await failsWith(() => 'HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n', 'Unexpected server response: 302');
});

/** An HTTP server whose upgrade requests either redirect (per `route`) or become WebSocket connections. */
async function redirectingServer(route: (request: IncomingMessage) => string | null) {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const seen: IncomingMessage[] = [];
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push(request);
    const location = route(request);
    if (location === null) {
      wss.handleUpgrade(request, socket, head, (ws) => ws.on('message', (data) => ws.send(data)));
    } else {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }
  });
  const port = await listenHttp(server);
  return { server, wss, port, seen };
}

test('followRedirects: follows a redirect on the same host, keeping credentials, and emits redirect', async () => {
  const target = await redirectingServer((request) => (request.url === '/old' ? '/new' : null));
  const socket = new WebSocket(`ws://user:pw@127.0.0.1:${target.port}/old`, {
    followRedirects: true,
    headers: { Authorization: 'Bearer token', Cookie: 'session=1' },
  });
  const [url, request] = await once<[string, ClientRequest]>(socket, 'redirect');
  assert.equal(url, `ws://user:pw@127.0.0.1:${target.port}/new`);
  assert.equal(request.path, '/new');
  await opened(socket);
  assert.equal(socket.url, `ws://user:pw@127.0.0.1:${target.port}/new`);
  const final = target.seen[1]!;
  assert.equal(final.url, '/new');
  assert.equal(final.headers.authorization, 'Bearer token');
  assert.equal(final.headers.cookie, 'session=1');
  socket.send('after redirect');
  const [echo] = await once<[Buffer]>(socket, 'message');
  assert.equal(echo.toString(), 'after redirect');
  socket.close();
  await once(socket, 'close');
  await closeServer(target.server);
});

test('followRedirects: credentials and auth headers never follow a redirect to another host', async () => {
  const other = await redirectingServer(() => null);
  const origin = await redirectingServer(() => `ws://127.0.0.1:${other.port}/landing`);
  const socket = await opened(
    new WebSocket(`ws://user:pw@127.0.0.1:${origin.port}/start`, {
      followRedirects: true,
      headers: { Authorization: 'Bearer token', cookie: 'session=1', 'X-Other': 'kept' },
    }),
  );
  assert.equal(origin.seen[0]!.headers.authorization, 'Bearer token');
  const landed = other.seen[0]!;
  assert.equal(landed.url, '/landing');
  assert.equal(landed.headers.authorization, undefined);
  assert.equal(landed.headers.cookie, undefined);
  assert.equal(landed.headers['x-other'], 'kept');
  assert.equal(landed.headers.host, `127.0.0.1:${other.port}`);
  socket.close();
  await once(socket, 'close');
  await closeServer(origin.server);
  await closeServer(other.server);
});

test('followRedirects: URL credentials are not sent to another host either', async () => {
  const other = await redirectingServer(() => null);
  const origin = await redirectingServer(() => `ws://127.0.0.1:${other.port}/`);
  const socket = await opened(new WebSocket(`ws://user:pw@127.0.0.1:${origin.port}/`, { followRedirects: true }));
  assert.ok(origin.seen[0]!.headers.authorization?.startsWith('Basic '));
  assert.equal(other.seen[0]!.headers.authorization, undefined);
  socket.close();
  await once(socket, 'close');
  await closeServer(origin.server);
  await closeServer(other.server);
});

test('followRedirects: a redirect loop stops at maxRedirects with a clear error', async () => {
  const loop = await redirectingServer(() => '/again');
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${loop.port}/`, { followRedirects: true, maxRedirects: 3 }));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'Maximum redirects exceeded');
  assert.equal(result.code, 1006);
  assert.equal(loop.seen.length, 4);
  await closeServer(loop.server);
});

test('followRedirects: a redirect to another scheme fails with a SyntaxError event, not a throw', async () => {
  const bad = await redirectingServer(() => 'ftp://127.0.0.1/file');
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${bad.port}/`, { followRedirects: true }));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.name, 'SyntaxError');
  assert.equal(result.error!.message, 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"');
  await closeServer(bad.server);
});

test('close() from a redirect listener stops the handshake', async () => {
  const target = await redirectingServer((request) => (request.url === '/old' ? '/new' : null));
  const socket = new WebSocket(`ws://127.0.0.1:${target.port}/old`, { followRedirects: true });
  socket.on('redirect', () => socket.close());
  const result = await outcome(socket);
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'WebSocket was closed before the connection was established');
  assert.equal(target.seen.length, 1, 'the redirected request was never sent');
  await closeServer(target.server);
});
