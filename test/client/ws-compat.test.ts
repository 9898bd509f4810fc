// The client, as a `ws` user sees it, side by side with `ws` 8: each scenario runs once with `ws` and once
// with Wavecast (test/helpers/ws-compat.ts). The request it sends (Host, credentials from the URL or the
// auth option, subprotocols), redirects (what a 'redirect' listener decides, credentials on the same host),
// close() from an 'unexpected-response' listener, and what the constructor refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Ws from 'ws';
import { acceptKey } from '../../src/protocol/handshake.js';
import { closeServer, listenHttp } from '../helpers/net.js';
import { describeError, sameAsWs, trace, type Implementation } from '../helpers/ws-compat.js';
import { rawServer, switching } from './helpers.js';

/** The headers a user's server would look at in the request of a client that opens with these arguments. */
async function requestOf(
  impl: Implementation,
  url: (port: number) => string,
  options: Record<string, unknown> = {},
  protocols?: unknown,
): Promise<Record<string, string>> {
  const { server, port, requests } = await rawServer((request) => {
    const asked = request.headers['sec-websocket-protocol'];
    return asked === undefined ? switching(request) : switching(request, `Sec-WebSocket-Protocol: ${asked.split(',')[0]!.trim()}`);
  });
  const client =
    protocols === undefined ? new impl.WebSocket(url(port), options) : new impl.WebSocket(url(port), protocols as string[], options);
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  client.terminate();
  await closeServer(server);
  const headers = requests[0]!.headers;
  const shown: Record<string, string> = {};
  for (const name of ['authorization', 'sec-websocket-protocol', 'origin', 'sec-websocket-origin', 'sec-websocket-version']) {
    if (headers[name] !== undefined) shown[name] = headers[name]!;
  }
  shown.host = headers.host!.replace(/:\d+$/, ':PORT');
  return shown;
}

test('the Host header leaves out the default port; credentials come from the URL, else from the auth option', async () => {
  const seen = await sameAsWs(async (impl) => {
    // The URL names the default port; createConnection takes the connection to the test server instead.
    const toServer = (port: number) => (options: object) => connect({ ...(options as object), host: '127.0.0.1', port });
    const { server, port, requests } = await rawServer((request) => switching(request));
    const onDefaultPort = new impl.WebSocket('ws://example.com/chat', { createConnection: toServer(port) as never });
    await new Promise((resolve) => onDefaultPort.once('open', resolve));
    onDefaultPort.terminate();
    await closeServer(server);
    return {
      defaultPort: requests[0]!.headers.host,
      otherPort: (await requestOf(impl, (p) => `ws://127.0.0.1:${p}/`)).host,
      auth: await requestOf(impl, (p) => `ws://127.0.0.1:${p}/`, { auth: 'ada:secret' }),
      urlWins: await requestOf(impl, (p) => `ws://bob:pw@127.0.0.1:${p}/`, { auth: 'ada:secret' }),
      headerWins: await requestOf(impl, (p) => `ws://bob:pw@127.0.0.1:${p}/`, { headers: { Authorization: 'Bearer t' } }),
      protocols: await requestOf(impl, (p) => `ws://127.0.0.1:${p}/`, {}, ['chat', 'superchat']),
      protocolsOption: await requestOf(impl, (p) => `ws://127.0.0.1:${p}/`, { protocols: ['one'] }),
      version8: await requestOf(impl, (p) => `ws://127.0.0.1:${p}/`, { protocolVersion: 8, origin: 'https://o.example' }),
    };
  });
  assert.equal(seen.defaultPort, 'example.com');
  assert.equal(seen.otherPort, '127.0.0.1:PORT');
  assert.equal(seen.auth.authorization, `Basic ${Buffer.from('ada:secret').toString('base64')}`);
  assert.equal(seen.urlWins.authorization, `Basic ${Buffer.from('bob:pw').toString('base64')}`);
  assert.equal(seen.headerWins.authorization, 'Bearer t');
  assert.equal(seen.protocols['sec-websocket-protocol'], 'chat,superchat');
});

test('what the constructor refuses, and with which error', async () => {
  const seen = await sameAsWs(async (impl) => {
    const refused: Record<string, string> = {};
    const attempt = (name: string, make: () => Ws) => {
      try {
        const ws = make();
        ws.on('error', () => {});
        ws.terminate();
        refused[name] = 'accepted';
      } catch (error) {
        refused[name] = describeError(error as Error);
      }
    };
    const Client = impl.WebSocket as unknown as new (...args: unknown[]) => Ws;
    attempt('a null subprotocol', () => new Client('ws://127.0.0.1:1/', null));
    attempt('an empty subprotocol', () => new Client('ws://127.0.0.1:1/', ''));
    attempt('a repeated subprotocol', () => new Client('ws://127.0.0.1:1/', ['a', 'a']));
    attempt('a subprotocol that is not a token', () => new Client('ws://127.0.0.1:1/', 'a b'));
    attempt('not a URL', () => new Client('not a url'));
    attempt('another scheme', () => new Client('ftp://127.0.0.1/'));
    attempt('a fragment', () => new Client('ws://127.0.0.1:1/#top'));
    attempt('protocol version 7', () => new Client('ws://127.0.0.1:1/', { protocolVersion: 7 }));
    return refused;
  });
  assert.equal(seen['a null subprotocol'], 'error SyntaxError: An invalid or duplicated subprotocol was specified');
  assert.equal(seen['protocol version 7'], 'error RangeError: Unsupported protocol version: 7 (supported versions: 8, 13)');
});

/** An HTTP server that redirects upgrades as `route` says, and answers the others with a 101; it records what it saw. */
async function redirecting(route: (request: IncomingMessage) => string | null) {
  const seen: IncomingMessage[] = [];
  const server = createServer();
  server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    seen.push(request);
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.destroy());
    const location = route(request);
    if (location !== null) {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const accept = switching({ accept: acceptFor(request), text: '', headers: {}, key: '' });
    socket.write(accept);
  });
  const port = await listenHttp(server);
  return { server, port, seen };
}

function acceptFor(request: IncomingMessage): string {
  return acceptKey(String(request.headers['sec-websocket-key']));
}

/** What reached the servers of a chain of redirects: the credentials of each request. */
function credentials(requests: IncomingMessage[]): string[] {
  return requests.map(
    (request) => `${request.url} authorization=${request.headers.authorization ?? '-'} cookie=${request.headers.cookie ?? '-'}`,
  );
}

test("redirects: credentials kept on the same host (the first URL's), dropped for another host unless a redirect listener decides", async () => {
  const seen = await sameAsWs(async (impl) => {
    const other = await redirecting(() => null);
    const origin = await redirecting((request) =>
      request.url === '/same' ? '/landing?with=new' : request.url === '/cross' ? `ws://127.0.0.1:${other.port}/elsewhere` : null,
    );
    const run = async (path: string, listen: boolean) => {
      const client = new impl.WebSocket(`ws://first:pw@127.0.0.1:${origin.port}${path}`, {
        followRedirects: true,
        headers: { Cookie: 'session=1' },
      });
      const redirects: string[] = [];
      if (listen)
        client.on('redirect', (url: string, request: ClientRequest) =>
          redirects.push(`${url.replace(/\d{4,5}/, 'PORT')} ${request.getHeader('authorization') !== undefined}`),
        );
      await new Promise((resolve, reject) => {
        client.once('open', resolve);
        client.once('error', reject);
      });
      client.terminate();
      return redirects;
    };
    const sameHost = await run('/same', false);
    const crossHost = await run('/cross', false);
    const crossHostListened = await run('/cross', true);
    const result = { sameHost, crossHost, crossHostListened, origin: credentials(origin.seen), other: credentials(other.seen) };
    await closeServer(origin.server);
    await closeServer(other.server);
    return result;
  });
  const first = `Basic ${Buffer.from('first:pw').toString('base64')}`;
  assert.deepEqual(seen.origin, [
    `/same authorization=${first} cookie=session=1`,
    `/landing?with=new authorization=${first} cookie=session=1`,
    `/cross authorization=${first} cookie=session=1`,
    `/cross authorization=${first} cookie=session=1`,
  ]);
  assert.deepEqual(seen.other, ['/elsewhere authorization=- cookie=-', `/elsewhere authorization=${first} cookie=session=1`]);
  assert.deepEqual(seen.crossHostListened, ['ws://127.0.0.1:PORT/elsewhere true']);
});

test('redirects: past maxRedirects, and to a URL that is not a WebSocket one, error then close 1006', async () => {
  const seen = await sameAsWs(async (impl) => {
    const loop = await redirecting(() => '/again');
    const ftp = await redirecting(() => 'ftp://127.0.0.1/file');
    const result = {
      loop: await trace(new impl.WebSocket(`ws://127.0.0.1:${loop.port}/`, { followRedirects: true, maxRedirects: 2 })),
      requests: loop.seen.length,
      ftp: await trace(new impl.WebSocket(`ws://127.0.0.1:${ftp.port}/`, { followRedirects: true })),
    };
    await closeServer(loop.server);
    await closeServer(ftp.server);
    return result;
  });
  assert.deepEqual(seen.loop, ['error Error: Maximum redirects exceeded', 'close 1006']);
  assert.equal(seen.requests, 3);
});

test("what a 'redirect' listener throws is not caught: it reaches the process, as in ws", async () => {
  const script = fileURLToPath(new URL('./redirect-throws.js', import.meta.url));
  const run = promisify(execFile);
  const outcomes: Record<string, string> = {};
  for (const name of ['ws', 'wavecast']) outcomes[name] = (await run(process.execPath, [script, name])).stdout.trim();
  assert.equal(outcomes.wavecast, outcomes.ws);
  assert.equal(outcomes.ws, 'uncaught: thrown by the listener');
});

test("close() from an 'unexpected-response' listener: error, close 1006, and nothing left open", async () => {
  const seen = await sameAsWs(async (impl) => {
    const http = createServer();
    const wss = new impl.WebSocketServer({ server: http, verifyClient: () => false });
    const port = await listenHttp(http);
    const client = new impl.WebSocket(`ws://127.0.0.1:${port}/`);
    client.on('unexpected-response', (_request: ClientRequest, response: IncomingMessage) => {
      events.push(`unexpected-response ${response.statusCode}`);
      client.close();
    });
    const events: string[] = [];
    events.push(...(await trace(client)));
    // The server closes without being helped (no closeAllConnections): a connection left open would hold it.
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the HTTP server did not close: a connection was left open')), 5_000);
      http.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return events;
  });
  assert.deepEqual(seen, [
    'unexpected-response 401',
    'error Error: WebSocket was closed before the connection was established',
    'close 1006',
  ]);
});
