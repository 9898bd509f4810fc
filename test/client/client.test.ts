// Our client against our server over real sockets on 127.0.0.1: the browser face, the ws face, message
// sizes both ways, options that change what is sent or accepted, and close() while connecting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer, type MessageEvent, type CloseEvent, type ErrorEvent, type RawData } from '../../src/index.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { SIZES, bytesOfSize, opened, outcome, textOfSize } from './helpers.js';

let server: Server;
let wss: WebSocketServer;
let base: string;
/** The last upgrade request the server accepted. */
let lastRequest: IncomingMessage | undefined;

before(async () => {
  server = createServer();
  wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
  wss.on('connection', (socket, request) => {
    lastRequest = request;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const text = isBinary ? '' : data.toString();
      if (text === 'close-me') socket.close(4001, 'asked to');
      else if (text === 'big') socket.send(Buffer.alloc(4096));
      else socket.send(data, { binary: isBinary });
    });
  });
  base = `ws://127.0.0.1:${await listenHttp(server)}`;
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await closeServer(server);
});

test('the constructor throws a SyntaxError for a bad URL or subprotocol, as ws and the browser do', () => {
  assert.throws(() => new WebSocket('::nonsense'), { name: 'SyntaxError', message: 'Invalid URL: ::nonsense' });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/#frag'), { name: 'SyntaxError', message: 'The URL contains a fragment identifier' });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', ['a', 'a']), {
    name: 'SyntaxError',
    message: 'An invalid or duplicated subprotocol was specified',
  });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', 'has space'), { name: 'SyntaxError' });
});

test('the constructor throws a RangeError or TypeError for a bad option', () => {
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { protocolVersion: 7 as 13 }), {
    name: 'RangeError',
    message: 'Unsupported protocol version: 7 (supported versions: 8, 13)',
  });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { handshakeTimeout: -1 }), {
    name: 'RangeError',
    message: /handshakeTimeout/,
  });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { followRedirects: 'yes' as unknown as boolean }), { name: 'TypeError' });
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', [], { headers: { 'x-bad': 'a\r\nb' } }), { name: 'TypeError', message: /x-bad/ });
});

test('the browser face: onopen, onmessage with a string, onclose with code, reason and wasClean', async () => {
  const socket = new WebSocket(`${base}/`);
  assert.equal(socket.readyState, WebSocket.CONNECTING);
  assert.equal(socket.url, `${base}/`);
  const seen: string[] = [];
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.onopen = () => {
      seen.push('open');
      socket.send('Hello, server!');
    };
    socket.onmessage = (event: MessageEvent) => {
      seen.push(`message ${typeof event.data} ${String(event.data)}`);
      socket.close(1000, 'done');
    };
    socket.onerror = (event: ErrorEvent) => seen.push(`error ${event.message}`);
    socket.onclose = (event: CloseEvent) => resolve(event);
  });
  const event = await closed;
  assert.deepEqual(seen, ['open', 'message string Hello, server!']);
  assert.deepEqual([event.code, event.reason, event.wasClean], [1000, 'done', true]);
  assert.equal(socket.readyState, WebSocket.CLOSED);
});

test('binaryType arraybuffer: binary messages arrive as ArrayBuffer, text as string', async () => {
  const socket = await opened(new WebSocket(base));
  socket.binaryType = 'arraybuffer';
  const received: unknown[] = [];
  const done = new Promise<void>((resolve) => {
    socket.addEventListener('message', (event: MessageEvent) => {
      received.push(event.data);
      if (received.length === 2) resolve();
    });
  });
  socket.send(new Uint8Array([1, 2, 3]));
  socket.send('text');
  await done;
  assert.ok(received[0] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(received[0] as ArrayBuffer)], [1, 2, 3]);
  assert.equal(received[1], 'text');
  socket.close();
  await once(socket, 'close');
});

test('the ws face: open, message (data, isBinary), a server-initiated close with its code and reason', async () => {
  const socket = await opened(new WebSocket(base, { headers: { 'X-Test': 'yes' } }));
  socket.send(Buffer.from('abc'));
  const [data, isBinary] = await once<[RawData, boolean]>(socket, 'message');
  assert.equal(isBinary, true);
  assert.deepEqual(data, Buffer.from('abc'));
  socket.send('close-me');
  const [code, reason] = await once<[number, Buffer]>(socket, 'close');
  assert.equal(code, 4001);
  assert.equal(reason.toString(), 'asked to');
});

for (const size of SIZES) {
  for (const kind of ['text', 'binary'] as const) {
    test(`a ${kind} message of ${size} bytes goes to the server and back`, async () => {
      const path = `/size-${kind}-${size}`;
      const socket = await opened(new WebSocket(base + path));
      const payload = kind === 'text' ? textOfSize(size) : bytesOfSize(size);
      const serverGot = once<[RawData, boolean]>([...wss.clients].find((c) => c.url === path)!, 'message', 20_000);
      socket.send(payload);
      const [[sent, sentBinary], [echo, echoBinary]] = await Promise.all([serverGot, once<[Buffer, boolean]>(socket, 'message', 20_000)]);
      assert.equal(sentBinary, kind === 'binary');
      assert.equal((sent as Buffer).length, size);
      assert.equal(echoBinary, kind === 'binary');
      assert.equal(echo.length, size);
      if (kind === 'text') assert.ok(echo.toString() === payload, 'the text came back unchanged');
      else assert.ok(echo.equals(payload as Buffer), 'the bytes came back unchanged');
      socket.close();
      await once(socket, 'close');
    });
  }
}

test('multibyte text survives the round trip', async () => {
  const socket = await opened(new WebSocket(base));
  socket.send('héllo wörld — 你好 🎉');
  const [echo] = await once<[Buffer]>(socket, 'message');
  assert.equal(echo.toString(), 'héllo wörld — 你好 🎉');
  socket.close();
  await once(socket, 'close');
});

test('frames from the client are masked on the wire, and the server reads them', async () => {
  // A raw check of the first frame on the wire: the mask bit is set and the payload is not in clear.
  const tap = createServer();
  const tapServer = new WebSocketServer({ noServer: true });
  const frames: Buffer[] = [];
  tap.on('upgrade', (request, rawSocket, head) => {
    // A copy: the server unmasks its chunks in place.
    rawSocket.on('data', (chunk: Buffer) => frames.push(Buffer.from(chunk)));
    tapServer.handleUpgrade(request, rawSocket, head, (ws) => ws.on('message', (data) => ws.send(data)));
  });
  const port = await listenHttp(tap);
  const socket = await opened(new WebSocket(`ws://127.0.0.1:${port}`));
  socket.send('secret-secret');
  await once(socket, 'message');
  const first = Buffer.concat(frames);
  assert.equal(first[1]! & 0x80, 0x80, 'the mask bit is set');
  assert.equal(first.includes(Buffer.from('secret-secret')), false, 'the payload is not sent in clear');
  socket.close();
  await once(socket, 'close');
  await closeServer(tap);
});

test('subprotocols: the server picks one of those requested and `protocol` reports it', async () => {
  const socket = await opened(new WebSocket(base, ['other', 'chat']));
  assert.equal(socket.protocol, 'chat');
  assert.equal(lastRequest?.headers['sec-websocket-protocol'], 'other,chat');
  socket.close();
  await once(socket, 'close');
});

test('a server that picks none of the requested subprotocols fails the connection, as browsers do', async () => {
  const result = await outcome(new WebSocket(base, ['other']));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'Server sent no subprotocol');
  assert.equal(result.code, 1006);
});

test('headers, origin and URL credentials reach the server; permessage-deflate is offered by default', async () => {
  const url = new URL(base);
  const socket = await opened(
    new WebSocket(`ws://us%20er:p%40ss@${url.host}/path?q=1`, {
      headers: { 'X-Custom': 'one', Cookie: 'a=b' },
      origin: 'https://app.example',
    }),
  );
  const headers = lastRequest!.headers;
  assert.equal(lastRequest!.url, '/path?q=1');
  assert.equal(headers['x-custom'], 'one');
  assert.equal(headers.cookie, 'a=b');
  assert.equal(headers.origin, 'https://app.example');
  assert.equal(headers.authorization, `Basic ${Buffer.from('us er:p@ss').toString('base64')}`);
  assert.equal(headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
  assert.equal(socket.extensions, '', 'the server here has compression off, so nothing was agreed');
  socket.close();
  await once(socket, 'close');
});

test('the upgrade event carries the 101 response', async () => {
  const socket = new WebSocket(base);
  const open = once(socket, 'open');
  const [response] = await once<[IncomingMessage]>(socket, 'upgrade');
  assert.equal(response.statusCode, 101);
  assert.equal(response.headers.upgrade, 'websocket');
  await open;
  socket.close();
  await once(socket, 'close');
});

test('maxPayload: a message larger than the client accepts fails the connection (1009 sent, 1006 reported, as ws does)', async () => {
  const socket = await opened(new WebSocket(base, { maxPayload: 1024 }));
  const peer = [...wss.clients].at(-1)!;
  const serverSaw = once<[number]>(peer, 'close');
  const result = outcome(socket);
  socket.send('big');
  const { events, code, error } = await result;
  assert.deepEqual(events, ['error', 'close']);
  assert.equal(code, 1006);
  assert.equal(error!.message, 'Max payload size exceeded');
  assert.equal((await serverSaw)[0], 1009);
});

test('autoPong: false leaves pings unanswered; by default a pong answers each ping', async () => {
  for (const autoPong of [true, false]) {
    const socket = await opened(new WebSocket(`${base}/ping-${autoPong}`, { autoPong }));
    const peer = [...wss.clients].find((c) => c.url === `/ping-${autoPong}`)!;
    let pongs = 0;
    peer.on('pong', () => pongs++);
    const pinged = once(socket, 'ping');
    peer.ping('p');
    peer.send('after the ping');
    await pinged;
    socket.send('echo me');
    // The client answers a ping when it reads it, so a pong, if any, arrives before the echo.
    await once(peer, 'message');
    assert.equal(pongs, autoPong ? 1 : 0);
    socket.close();
    await once(socket, 'close');
  }
});

test('agent, createConnection, localAddress, family and lookup reach the connection', async () => {
  const port = Number(new URL(base).port);
  // An agent: the request goes through it.
  const agent = new Agent();
  const agentConnect = agent.createConnection.bind(agent);
  let agentSockets = 0;
  agent.createConnection = (options, callback) => {
    agentSockets++;
    return agentConnect(options, callback);
  };
  const viaAgent = await opened(new WebSocket(base, { agent }));
  assert.equal(agentSockets, 1);
  viaAgent.close();
  await once(viaAgent, 'close');

  // createConnection: the user's function opens the socket.
  const opens: string[] = [];
  const custom = await opened(
    new WebSocket(base, {
      createConnection: (options: { host?: string | null | undefined; port?: number | string | null | undefined }) => {
        opens.push(`${options.host}:${options.port}`);
        return connect({ ...(options.host != null ? { host: options.host } : {}), port: Number(options.port) });
      },
    }),
  );
  assert.deepEqual(opens, [`127.0.0.1:${port}`]);
  custom.close();
  await once(custom, 'close');

  // A host name resolved by a custom lookup, restricted to IPv4, from a given local address.
  const looked: string[] = [];
  const named = await opened(
    new WebSocket(`ws://wavecast.test:${port}/named`, {
      family: 4,
      localAddress: '127.0.0.1',
      lookup: ((hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
        looked.push(`${hostname} family ${options.family}`);
        if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      }) as unknown as LookupFunction,
    }),
  );
  assert.deepEqual(looked, ['wavecast.test family 4']);
  assert.equal(lastRequest!.headers.host, `wavecast.test:${port}`);
  assert.equal(lastRequest!.socket.remoteAddress, '127.0.0.1');
  named.close();
  await once(named, 'close');
});

test('close() while connecting aborts with the ws message, then close 1006', async () => {
  const socket = new WebSocket(base);
  const result = outcome(socket);
  socket.close();
  assert.equal(socket.readyState, WebSocket.CLOSING);
  const { events, error, code } = await result;
  assert.deepEqual(events, ['error', 'close']);
  assert.equal(error!.message, 'WebSocket was closed before the connection was established');
  assert.equal(code, 1006);
  assert.equal(socket.readyState, WebSocket.CLOSED);
});

test('terminate() while connecting does the same, and the close event says it was not clean', async () => {
  const socket = new WebSocket(base);
  const closed = new Promise<WebSocket.CloseEvent>((resolve) => (socket.onclose = resolve));
  socket.terminate();
  const event = await closed;
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
});

test('send() while connecting throws a clear error', () => {
  const socket = new WebSocket(base);
  assert.throws(() => socket.send('too early'), { message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
  socket.terminate();
});

test('ws+unix: connects over a Unix socket with the request path after the colon', async (t) => {
  if (process.platform === 'win32') return t.skip('no Unix sockets');
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-unix-'));
  const socketPath = join(dir, 'ws.sock');
  const unixServer = createServer();
  const unixWss = new WebSocketServer({ server: unixServer });
  let path: string | undefined;
  unixWss.on('connection', (ws, request) => {
    path = request.url;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => unixServer.listen(socketPath, resolve));
  try {
    const socket = await opened(new WebSocket(`ws+unix:${socketPath}:/chat?room=7`));
    assert.equal(path, '/chat?room=7');
    socket.send('over unix');
    const [echo] = await once<[Buffer]>(socket, 'message');
    assert.equal(echo.toString(), 'over unix');
    socket.close();
    await once(socket, 'close');
  } finally {
    await closeServer(unixServer);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server refusing the upgrade with 401: without a listener, error names the status, then close 1006', async () => {
  const strictServer = createServer();
  const strict = new WebSocketServer({ server: strictServer, verifyClient: () => false });
  strict.on('connection', () => assert.fail('no connection expected'));
  const port = await listenHttp(strictServer);
  const result = await outcome(new WebSocket(`ws://127.0.0.1:${port}`));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'Unexpected server response: 401');
  assert.equal(result.code, 1006);
  await closeServer(strictServer);
});

test('a server refusing the upgrade with 401: an unexpected-response listener gets request and response, no error', async () => {
  const strictServer = createServer();
  new WebSocketServer({ server: strictServer, verifyClient: (_info, done) => done(false, 403, 'Go away') });
  const port = await listenHttp(strictServer);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/private`);
  const body = new Promise<{ status: number | undefined; path: string; text: string }>((resolve) => {
    socket.on('unexpected-response', (request: { path: string }, response: IncomingMessage) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, path: request.path, text }));
    });
  });
  const result = outcome(socket);
  assert.deepEqual(await body, { status: 403, path: '/private', text: 'Go away' });
  const { events, code } = await result;
  assert.deepEqual(events, ['close']);
  assert.equal(code, 1006);
  await closeServer(strictServer);
});

test('an unexpected-response listener that ignores the body still sees the socket close with 1006', async () => {
  const strictServer = createServer();
  new WebSocketServer({ server: strictServer, verifyClient: (_info, done) => done(false, 429, 'x'.repeat(100_000)) });
  const port = await listenHttp(strictServer);
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const statuses: number[] = [];
  socket.on('unexpected-response', (_request: unknown, response: IncomingMessage) => statuses.push(response.statusCode!));
  const { events, code } = await outcome(socket);
  assert.deepEqual(statuses, [429]);
  assert.deepEqual(events, ['close']);
  assert.equal(code, 1006);
  await closeServer(strictServer);
});
