// Our client against the `ws` package's server: the handshake, subprotocols, messages of every size both
// ways, pings, closing in both directions, a refused upgrade, and a server that would compress.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';
import { WebSocket } from '../../src/index.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { SIZES, bytesOfSize, opened, outcome, textOfSize } from './helpers.js';

let server: Server;
let wss: WsServer;
let base: string;
const peers = new Map<string, WsSocket>();

before(async () => {
  server = createServer();
  wss = new WsServer({
    server,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
    verifyClient: (info: { req: IncomingMessage }) => info.req.url !== '/forbidden',
  });
  wss.on('connection', (socket, request) => {
    peers.set(request.url ?? '', socket);
    socket.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-me') socket.close(4002, 'from ws');
      else socket.send(data, { binary: isBinary });
    });
  });
  base = `ws://127.0.0.1:${await listenHttp(server)}`;
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await closeServer(server);
});

test('connects to a ws server and agrees on a subprotocol', async () => {
  const socket = await opened(new WebSocket(`${base}/proto`, ['chat']));
  assert.equal(socket.protocol, 'chat');
  assert.equal(peers.get('/proto')!.protocol, 'chat');
  socket.close();
  await once(socket, 'close');
});

test('messages of every size, text and binary, reach the ws server and come back', async () => {
  const socket = await opened(new WebSocket(`${base}/sizes`));
  const peer = peers.get('/sizes')!;
  for (const size of SIZES) {
    for (const payload of [textOfSize(size), bytesOfSize(size)]) {
      const binary = typeof payload !== 'string';
      const atServer = once<[Buffer, boolean]>(peer, 'message', 20_000);
      const back = once<[Buffer, boolean]>(socket, 'message', 20_000);
      socket.send(payload);
      const [[got, gotBinary], [echo, echoBinary]] = await Promise.all([atServer, back]);
      assert.equal(gotBinary, binary, `the ws server saw the ${size}-byte message as ${binary ? 'binary' : 'text'}`);
      assert.equal(got.length, size);
      assert.equal(echoBinary, binary);
      assert.ok(binary ? echo.equals(payload) : echo.toString() === payload, `the ${size}-byte echo is unchanged`);
    }
  }
  socket.close();
  await once(socket, 'close');
});

test('pings both ways are answered', async () => {
  const socket = await opened(new WebSocket(`${base}/ping`));
  const peer = peers.get('/ping')!;
  const serverGotPong = once<[Buffer]>(peer, 'pong');
  peer.ping('from ws');
  assert.equal((await serverGotPong)[0].toString(), 'from ws');
  const clientGotPong = once<[Buffer]>(socket, 'pong');
  socket.ping('from wavecast');
  assert.equal((await clientGotPong)[0].toString(), 'from wavecast');
  socket.close();
  await once(socket, 'close');
});

test('a close started by the client reaches the ws server with its code and reason', async () => {
  const socket = await opened(new WebSocket(`${base}/client-close`));
  const peerClosed = once<[number, Buffer]>(peers.get('/client-close')!, 'close');
  socket.close(4100, 'client done');
  const [[code, reason], [clientCode]] = await Promise.all([peerClosed, once<[number]>(socket, 'close')]);
  assert.deepEqual([code, reason.toString()], [4100, 'client done']);
  assert.equal(clientCode, 4100);
});

test('a close started by the ws server reaches the client with its code and reason', async () => {
  const socket = await opened(new WebSocket(`${base}/server-close`));
  socket.send('close-me');
  const [code, reason] = await once<[number, Buffer]>(socket, 'close');
  assert.deepEqual([code, reason.toString()], [4002, 'from ws']);
});

test('a ws server that refuses the upgrade: error naming the status, then close 1006', async () => {
  const result = await outcome(new WebSocket(`${base}/forbidden`));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal(result.error!.message, 'Unexpected server response: 401');
  assert.equal(result.code, 1006);
});

test('a ws server with permessage-deflate enabled: compression is negotiated and messages flow both ways', async () => {
  const deflateServer = createServer();
  const deflating = new WsServer({ server: deflateServer, perMessageDeflate: { threshold: 0 } });
  deflating.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const port = await listenHttp(deflateServer);
  const socket = await opened(new WebSocket(`ws://127.0.0.1:${port}/`));
  assert.match(socket.extensions, /^permessage-deflate/);
  socket.send('short text, under the threshold');
  const [echo] = await once<[Buffer]>(socket, 'message');
  assert.equal(echo.toString(), 'short text, under the threshold');
  const long = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: i, text: 'compress me' })));
  socket.send(long);
  const [longEcho] = await once<[Buffer]>(socket, 'message');
  assert.equal(longEcho.toString(), long);
  socket.close();
  await once(socket, 'close');
  await closeServer(deflateServer);
});
