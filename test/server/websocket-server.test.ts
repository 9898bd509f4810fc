// The ws-compatible server API, driven by clients of the `ws` package on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import WS from 'ws';
import { WebSocket, WebSocketServer, isTextMessage } from '../../src/index.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';

async function start(options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  const port = (wss.address() as { port: number }).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

function stop(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

async function open(url: string, protocols?: string | string[], options?: WS.ClientOptions): Promise<WS> {
  const ws = new WS(url, protocols, options);
  await once(ws, 'open');
  return ws;
}

test('text and binary messages of every length class arrive intact both ways', async () => {
  const { wss, url } = await start();
  const serverGot: Array<[number, boolean]> = [];
  wss.on('connection', (socket: WebSocket) => {
    socket.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      serverGot.push([buf.length, isBinary]);
      socket.send(buf); // a text message relays as text, a binary one as binary
    });
  });
  const client = await open(url);
  for (const size of [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024]) {
    const binary = Buffer.alloc(size).map((_, i) => (i * 13) & 0xff);
    client.send(binary);
    const [echo, isBinary] = await once<[Buffer, boolean]>(client, 'message', 20_000);
    assert.equal(isBinary, true);
    assert.ok(echo.equals(binary), `binary ${size}`);

    const text = 'é'.repeat(size >> 1) + (size % 2 ? 'a' : '');
    client.send(text);
    const [textEcho, textIsBinary] = await once<[Buffer, boolean]>(client, 'message', 20_000);
    assert.equal(textIsBinary, false);
    assert.equal(textEcho.toString(), text, `text ${size}`);
  }
  assert.equal(serverGot.length, 14);
  client.close();
  await stop(wss);
});

test('a received text message is a Buffer that remembers it was text', async () => {
  const { wss, url } = await start();
  const seen = new Promise<unknown>((resolve) => wss.on('connection', (socket: WebSocket) => socket.on('message', resolve)));
  const client = await open(url);
  client.send('hi there');
  const message = await seen;
  assert.ok(Buffer.isBuffer(message));
  assert.ok(isTextMessage(message));
  assert.equal((message as Buffer).toString(), 'hi there');
  assert.equal((message as Buffer).toString('hex'), Buffer.from('hi there').toString('hex'));
  client.close();
  await stop(wss);
});

test('binaryType arraybuffer and fragments', async () => {
  const { wss, url } = await start();
  const got: unknown[] = [];
  const done = new Promise<void>((resolve) =>
    wss.on('connection', (socket: WebSocket) => {
      socket.binaryType = 'arraybuffer';
      socket.on('message', (data) => {
        got.push(data);
        socket.binaryType = got.length === 1 ? 'fragments' : 'arraybuffer';
        if (got.length === 3) resolve();
      });
    }),
  );
  const client = await open(url);
  client.send(Buffer.from([1, 2, 3]));
  client.send(Buffer.from([4, 5]));
  client.send('still text');
  await done;
  assert.ok(isTextMessage(got[2]), 'as in ws, binaryType shapes binary messages only');
  assert.equal(String(got[2]), 'still text');
  assert.ok(got[0] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(got[0] as ArrayBuffer)], [1, 2, 3]);
  assert.ok(Array.isArray(got[1]));
  assert.deepEqual([...Buffer.concat(got[1] as Buffer[])], [4, 5]);
  client.close();
  await stop(wss);
});

test('send accepts strings, Buffers, ArrayBuffers, typed arrays and numbers, with callbacks', async () => {
  const { wss, url } = await start();
  wss.on('connection', (socket: WebSocket) => {
    socket.send('text', (error) => assert.ifError(error));
    socket.send(Buffer.from('buf'));
    socket.send(new Uint8Array([0x61, 0x62]).buffer);
    socket.send(new Uint16Array([0x6261]));
    socket.send(42);
    socket.send('bin', { binary: true });
    socket.send(Buffer.from('txt'), { binary: false });
  });
  const client = new WS(url);
  const got: Array<[string, boolean]> = [];
  await new Promise<void>((resolve) =>
    client.on('message', (data, isBinary) => {
      got.push([data.toString(), isBinary]);
      if (got.length === 7) resolve();
    }),
  );
  assert.deepEqual(got, [
    ['text', false],
    ['buf', true],
    ['ab', true],
    ['ab', true],
    ['42', false],
    ['bin', true],
    ['txt', false],
  ]);
  client.close();
  await stop(wss);
});

test('fragmented sends with fin: false make one message', async () => {
  const { wss, url } = await start();
  wss.on('connection', (socket: WebSocket) => {
    socket.send('Hel', { fin: false });
    socket.send('lo ', { fin: false });
    socket.send('world', { fin: true });
  });
  const client = new WS(url);
  const [data, isBinary] = await once<[Buffer, boolean]>(client, 'message');
  assert.equal(data.toString(), 'Hello world');
  assert.equal(isBinary, false);
  client.close();
  await stop(wss);
});

test('ping, automatic pong, and pong events', async () => {
  const { wss, url } = await start();
  const serverSocket = new Promise<WebSocket>((resolve) => wss.on('connection', resolve));
  const client = await open(url);
  const socket = await serverSocket;
  const clientPinged = once<[Buffer]>(client, 'ping');
  const pong = once<[Buffer]>(socket, 'pong');
  socket.ping('hello');
  assert.equal((await clientPinged)[0].toString(), 'hello');
  assert.equal((await pong)[0].toString(), 'hello', 'ws answers our ping');
  const serverPinged = once<[Buffer]>(socket, 'ping');
  const clientPong = once<[Buffer]>(client, 'pong');
  client.ping('back');
  assert.equal((await serverPinged)[0].toString(), 'back');
  assert.equal((await clientPong)[0].toString(), 'back', 'we answer a ping with its payload');
  assert.throws(() => socket.ping(Buffer.alloc(126)), RangeError);
  client.close();
  await stop(wss);
});

test('closing handshake from the server: code and reason reach the client, both sides see 1000', async () => {
  const { wss, url } = await start();
  const serverClose = new Promise<[number, string]>((resolve) =>
    wss.on('connection', (socket: WebSocket) => {
      socket.on('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]));
      socket.close(1000, 'done here');
      assert.equal(socket.readyState, WebSocket.CLOSING);
    }),
  );
  const client = new WS(url);
  const [code, reason] = await once<[number, Buffer]>(client, 'close');
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'done here');
  assert.deepEqual(await serverClose, [1000, 'done here']);
  assert.equal(wss.clients.size, 0, 'a closed socket leaves clients');
  await stop(wss);
});

test('closing handshake from the client, with no status code, is reported as 1005', async () => {
  const { wss, url } = await start();
  const serverClose = new Promise<number>((resolve) => wss.on('connection', (socket: WebSocket) => socket.on('close', resolve)));
  const client = await open(url);
  client.close();
  assert.equal(await serverClose, 1005);
  await once(client, 'close');
  await stop(wss);
});

test('close() refuses codes that may not be sent and reasons over 123 bytes', async () => {
  const { wss, url } = await start();
  const serverSocket = new Promise<WebSocket>((resolve) => wss.on('connection', resolve));
  const client = await open(url);
  const socket = await serverSocket;
  assert.throws(() => socket.close(1006), TypeError);
  assert.throws(() => socket.close(1005), TypeError);
  assert.throws(() => socket.close(2000), TypeError);
  assert.throws(() => socket.close(1000, 'x'.repeat(124)), RangeError);
  assert.equal(socket.readyState, WebSocket.OPEN);
  socket.close(4000, 'custom');
  const [code] = await once<[number]>(client, 'close');
  assert.equal(code, 4000);
  await stop(wss);
});

test('terminate() drops the connection at once: 1006 on both sides', async () => {
  const { wss, url } = await start();
  const serverClose = new Promise<number>((resolve) =>
    wss.on('connection', (socket: WebSocket) => {
      socket.on('close', resolve);
      socket.terminate();
    }),
  );
  const client = new WS(url);
  const [code] = await once<[number]>(client, 'close');
  assert.equal(code, 1006);
  assert.equal(await serverClose, 1006);
  await stop(wss);
});

test('send after close calls back with an error instead of throwing', async () => {
  const { wss, url } = await start();
  const result = new Promise<Error | undefined>((resolve) =>
    wss.on('connection', (socket: WebSocket) => {
      socket.close();
      socket.send('late', resolve);
    }),
  );
  const client = new WS(url);
  const error = await result;
  assert.match(String(error?.message), /not open/);
  await once(client, 'close');
  await stop(wss);
});

test('readyState constants on the class and the instance; protocol, extensions, bufferedAmount', async () => {
  assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
  const { wss, url } = await start();
  const serverSocket = new Promise<WebSocket>((resolve) => wss.on('connection', resolve));
  const client = await open(url, ['chat', 'superchat']);
  const socket = await serverSocket;
  assert.deepEqual([socket.CONNECTING, socket.OPEN, socket.CLOSING, socket.CLOSED], [0, 1, 2, 3]);
  assert.equal(socket.readyState, socket.OPEN);
  assert.equal(socket.protocol, 'chat', 'the first offered subprotocol is chosen by default, as in ws');
  assert.equal(client.protocol, 'chat');
  assert.equal(socket.extensions, '');
  assert.equal(typeof socket.bufferedAmount, 'number');
  client.close();
  await once(socket, 'close');
  assert.equal(socket.readyState, WebSocket.CLOSED);
  await stop(wss);
});

test('handleProtocols picks the subprotocol, or none', async () => {
  const { wss, url } = await start({
    handleProtocols: (protocols: Set<string>, request: IncomingMessage) => {
      assert.ok(request.headers.host);
      return protocols.has('b') ? 'b' : false;
    },
  });
  const a = await open(url, ['a', 'b']);
  assert.equal(a.protocol, 'b');
  // With nothing chosen the response names no subprotocol (the ws client then gives up, as it does).
  const none = new WS(url, ['x']);
  none.on('error', () => {});
  const [response] = await once<[IncomingMessage]>(none, 'upgrade');
  assert.equal(response.headers['sec-websocket-protocol'], undefined);
  a.close();
  await stop(wss);
});

test('verifyClient, sync and async, with a custom status', async () => {
  const sync = await start({ verifyClient: (info: { req: IncomingMessage }) => info.req.headers['x-token'] === 'ok' });
  const allowed = await open(sync.url, undefined, { headers: { 'x-token': 'ok' } });
  allowed.close();
  const refused = new WS(sync.url);
  refused.on('error', () => {});
  const [, response] = await once<[unknown, IncomingMessage]>(refused, 'unexpected-response');
  assert.equal(response.statusCode, 401);
  response.resume();
  refused.terminate();
  await stop(sync.wss);

  const asyncServer = await start({
    verifyClient: (info: { origin: string | undefined }, done: (ok: boolean, code?: number, message?: string) => void) => {
      setImmediate(() => (info.origin === 'https://good.example' ? done(true) : done(false, 403, 'Origin not allowed')));
    },
  });
  const good = await open(asyncServer.url, undefined, { origin: 'https://good.example' });
  good.close();
  const bad = new WS(asyncServer.url, { origin: 'https://evil.example' });
  bad.on('error', () => {});
  const [, badResponse] = await once<[unknown, IncomingMessage]>(bad, 'unexpected-response');
  assert.equal(badResponse.statusCode, 403);
  let body = '';
  for await (const chunk of badResponse) body += chunk;
  assert.equal(body, 'Origin not allowed');
  bad.terminate();
  await stop(asyncServer.wss);
});

function httpGet(
  port: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers }, async (res) => {
      let body = '';
      for await (const chunk of res) body += chunk;
      resolve({ status: res.statusCode!, headers: res.headers, body });
    });
    req.on('error', reject);
    req.end();
  });
}

test('the headers event lets the user add response headers', async () => {
  const { wss, url } = await start();
  wss.on('headers', (headers: string[]) => headers.push('X-Powered-By: wavecast'));
  const client = new WS(url);
  const opened = once(client, 'open');
  const [response] = await once<[IncomingMessage]>(client, 'upgrade');
  assert.equal(response.headers['x-powered-by'], 'wavecast');
  await opened;
  client.close();
  await stop(wss);
});

test('an external HTTP server with a path, and noServer with handleUpgrade', async () => {
  const http = createServer((_req, res) => res.end('plain http still works'));
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  const port = await listenHttp(http);
  const client = await open(`ws://127.0.0.1:${port}/ws?x=1`);
  client.close();
  const wrongPath = new WS(`ws://127.0.0.1:${port}/other`);
  wrongPath.on('error', () => {});
  const [, res] = await once<[unknown, IncomingMessage]>(wrongPath, 'unexpected-response');
  assert.equal(res.statusCode, 400);
  wrongPath.terminate();
  const plain = await httpGet(port);
  assert.equal(plain.body, 'plain http still works');
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await closeServer(http);

  const http2 = createServer();
  const noServer = new WebSocketServer({ noServer: true });
  assert.throws(() => noServer.address(), /noServer/);
  http2.on('upgrade', (req, socket, head) => {
    if (req.url === '/live') noServer.handleUpgrade(req, socket, head, (ws) => noServer.emit('connection', ws, req));
    else socket.destroy();
  });
  noServer.on('connection', (ws: WebSocket) => ws.send('routed'));
  const port2 = await listenHttp(http2);
  const routed = new WS(`ws://127.0.0.1:${port2}/live`);
  const [data] = await once<[Buffer]>(routed, 'message');
  assert.equal(data.toString(), 'routed');
  assert.equal(noServer.clients.size, 1);
  routed.close();
  await once(routed, 'close');
  await new Promise<void>((resolve) => noServer.close(() => resolve()));
  await closeServer(http2);
});

test('the constructor needs exactly one of port, server and noServer', () => {
  assert.throws(() => new WebSocketServer({}), TypeError);
  assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
});

test('close(cb): stops accepting, and calls back once the last client has gone', async () => {
  const { wss, url, port } = await start();
  const client = await open(url);
  let closed = false;
  const done = new Promise<void>((resolve) =>
    wss.close(() => {
      closed = true;
      resolve();
    }),
  );
  const late = new WS(`ws://127.0.0.1:${port}`);
  const refused = new Promise<Error>((resolve) => late.on('error', resolve));
  assert.match((await refused).message, /ECONNREFUSED/, 'no new connections once closing');
  assert.equal(closed, false, 'an open client keeps the server from closing');
  client.close();
  await done;
});

test('the browser face on a server socket: onmessage, addEventListener, onclose', async () => {
  const { wss, url } = await start();
  const events: string[] = [];
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) =>
    wss.on('connection', (socket: WebSocket) => {
      socket.onmessage = (event) => {
        events.push(`onmessage:${String(event.data)}:${typeof event.data}`);
        socket.send(String(event.data).toUpperCase());
      };
      const listener = (event: { data: unknown }) => events.push(`listener:${String(event.data)}`);
      socket.addEventListener('message', listener);
      socket.addEventListener('message', listener); // the same listener twice counts once
      socket.onclose = (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    }),
  );
  const client = await open(url);
  client.send('abc');
  const [reply] = await once<[Buffer]>(client, 'message');
  assert.equal(reply.toString(), 'ABC');
  client.close(1000, 'bye');
  assert.deepEqual(await closed, { code: 1000, reason: 'bye', wasClean: true });
  assert.deepEqual(events, ['onmessage:abc:string', 'listener:abc']);
  await stop(wss);
});

test("each connection reports its own handshake's protocol, extensions and url, however many open alike", async () => {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (protocols: Set<string>) => [...protocols][0] ?? false,
    perMessageDeflate: true,
  });
  await once(wss, 'listening');
  const { port } = wss.address() as { port: number };
  const opened = [
    { path: '/a', protocols: ['one'], deflate: false },
    { path: '/a', protocols: ['one'], deflate: false },
    { path: '/b', protocols: ['one'], deflate: false },
    { path: '/b', protocols: ['two'], deflate: false },
    { path: '/b', protocols: ['two'], deflate: true },
    { path: '/a', protocols: ['one'], deflate: false },
  ];
  const pairs = [];
  for (const { path, protocols, deflate } of opened) {
    const accepted = once<[WebSocket]>(wss, 'connection');
    const client = new WS(`ws://127.0.0.1:${port}${path}`, protocols, { perMessageDeflate: deflate });
    const [[socket]] = await Promise.all([accepted, once(client, 'open')]);
    pairs.push({ client, socket });
  }
  assert.deepEqual(
    pairs.map(({ socket }) => [socket.url, socket.protocol, socket.extensions]),
    opened.map(({ path, protocols, deflate }) => [path, protocols[0], deflate ? 'permessage-deflate' : '']),
  );
  for (const { client, socket } of pairs) {
    client.terminate();
    await once(socket, 'close');
  }
  wss.close();
});
