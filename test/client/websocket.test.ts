// The public WebSocket class (src/client/websocket.ts) as users meet it: the package's `new WebSocket(url)`
// is a client in a program that imports nothing else (ESM and CommonJS, from dist/), the sockets a server
// accepts are `instanceof WebSocket`, and a subclass given as the server's `WebSocket` option is the class
// of its sockets, as in `ws`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocketDefault, { WebSocket, WebSocketServer } from '../../src/index.js';
import { once } from '../helpers/net.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

async function listening(wss: WebSocketServer): Promise<string> {
  await once(wss, 'listening');
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
}
const stop = (wss: WebSocketServer) => new Promise<void>((resolve) => wss.close(() => resolve()));

// A program that uses only the package ('wavecast' resolves to this package's dist/ by its own name): a
// server on a free port, a client of it, an echo, and what it can see of the classes. %IMPORT% is the
// line that loads the package.
const PROGRAM = `%IMPORT%
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
const seen = {};
wss.on('connection', (socket) => {
  seen.serverSocketIsWebSocket = socket instanceof WebSocket;
  socket.on('message', (data) => socket.send('echo ' + data));
});
wss.on('listening', () => {
  const client = new WebSocket('ws://127.0.0.1:' + wss.address().port + '/path');
  seen.clientIsWebSocket = client instanceof WebSocket;
  client.on('open', () => client.send('hi'));
  client.on('message', (data) => {
    seen.message = String(data);
    seen.url = client.url;
    client.close();
  });
  client.on('close', (code) => {
    seen.code = code;
    seen.sameServer = WebSocket.Server === WebSocketServer;
    wss.close();
    console.log(JSON.stringify(seen));
  });
});
`;
const EXPECTED = {
  serverSocketIsWebSocket: true,
  clientIsWebSocket: true,
  message: 'echo hi',
  url: '', // filled in below
  code: 1005,
  sameServer: true,
};

for (const [kind, args, load] of [
  ['ES module', ['--input-type=module', '-e'], "import WebSocket, { WebSocketServer } from 'wavecast';"],
  ['CommonJS', ['--input-type=commonjs', '-e'], "const WebSocket = require('wavecast'); const { WebSocketServer } = WebSocket;"],
] as const) {
  test(`a program that only loads the package (${kind}) connects with new WebSocket(url), and its server's sockets are WebSockets`, async () => {
    const { stdout } = await run(process.execPath, [...args, PROGRAM.replace('%IMPORT%', load)], { cwd: ROOT, timeout: 30_000 });
    const seen = JSON.parse(stdout) as typeof EXPECTED;
    assert.match(seen.url, /^ws:\/\/127\.0\.0\.1:\d+\/path$/);
    assert.deepEqual(seen, { ...EXPECTED, url: seen.url });
  });
}

test('the sockets a server accepts are instanceof WebSocket, and the default export is the same class', async () => {
  assert.equal(WebSocketDefault, WebSocket);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  assert.equal(wss.options.WebSocket, WebSocket);
  const url = await listening(wss);
  const accepted = once<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(url);
  const [socket] = await accepted;
  assert.ok(socket instanceof WebSocket);
  assert.ok(socket instanceof WebSocketDefault.WebSocket);
  assert.equal(socket.constructor, WebSocket);
  assert.deepEqual(
    Object.keys(WebSocket).filter((key) => key === key.toUpperCase()),
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'],
  );
  await once(client, 'open');
  client.close();
  await once(socket, 'close');
  await stop(wss);
});

/** A subclass as `ws` users write them: a method of its own, and a constructor that passes its arguments on. */
class Tagged extends WebSocket {
  tag = 'untagged';
  label(): string {
    return `${this.tag}:${this.readyState}`;
  }
}

test('a subclass given as the WebSocket option is the class of the server sockets (its methods and fields are there), on WebSocket.Server as well', async () => {
  for (const Server of [WebSocketServer, WebSocket.Server]) {
    const wss = new Server({ port: 0, host: '127.0.0.1', WebSocket: Tagged });
    assert.equal(wss.options.WebSocket, Tagged);
    const url = await listening(wss);
    const accepted = new Promise<Tagged>((resolve) => wss.once('connection', resolve));
    const client = new WebSocket(url);
    const socket = await accepted;
    assert.ok(socket instanceof Tagged);
    assert.ok(socket instanceof WebSocket);
    // Typed as the subclass (no cast), as @types/ws types it.
    assert.equal(socket.label(), `untagged:${WebSocket.OPEN}`);
    assert.ok(wss.clients.has(socket));
    // The subclass's socket is a working connection.
    const received = once<[Buffer]>(client, 'message');
    socket.send('from the subclass');
    assert.equal(String((await received)[0]), 'from the subclass');
    client.close();
    await once(socket, 'close');
    await stop(wss);
  }
});

test('a subclass is a client too: new Subclass(url) opens, and its own fields are set before any event', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const url = await listening(wss);
  const client = new Tagged(url, { perMessageDeflate: false });
  client.tag = 'client';
  await once(client, 'open');
  assert.equal(client.label(), `client:${WebSocket.OPEN}`);
  client.close();
  await once(client, 'close');
  await stop(wss);
});
