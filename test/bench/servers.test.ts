// The benchmark's peer servers do the job their scenarios claim, checked with the reference clients:
// the raw node:net server (now coalescing its writes per turn) echoes, answers pings and broadcasts, on
// its own server and on node:http; the Socket.IO server delivers a room's messages to the room only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client';
import { Child } from '../../bench/lib/proc.js';
import type { ServerToRunner } from '../../bench/lib/types.js';
import { once } from '../helpers/net.js';

const SERVERS = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/servers'));

async function start(script: string, args: string[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = Child.fork<ServerToRunner>(script, join(SERVERS, script), args);
  const ready = await Promise.race([child.next('ready', 10_000), child.died]);
  return { port: ready.port, stop: () => child.stop() };
}

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await once(ws, 'open');
  return ws;
}

for (const onHttp of [false, true]) {
  const where = onHttp ? 'on node:http' : 'on its own server';
  test(`raw server ${where}: echoes what one turn sends, in order, and answers a ping`, async () => {
    const server = await start('raw.js', ['echo', ...(onHttp ? ['http'] : [])]);
    try {
      const ws = await open(server.port);
      const got: string[] = [];
      const three = new Promise<void>((done) =>
        ws.on('message', (data) => {
          got.push(String(data));
          if (got.length === 3) done();
        }),
      );
      ws.send('one');
      ws.send('two');
      ws.send('three');
      await three;
      assert.deepEqual(got, ['one', 'two', 'three']);
      const pong = once(ws, 'pong');
      ws.ping('are you there');
      const [payload] = (await pong) as [Buffer];
      assert.equal(payload.toString(), 'are you there');
      ws.close();
      await once(ws, 'close');
    } finally {
      await server.stop();
    }
  });
}

test('raw server, broadcast: every client gets every message, the sender included', async () => {
  const server = await start('raw.js', ['broadcast']);
  try {
    const [a, b] = [await open(server.port), await open(server.port)];
    const toA = once(a, 'message');
    const toB = once(b, 'message');
    a.send('hello all');
    assert.equal(String((await toA)[0]), 'hello all');
    assert.equal(String((await toB)[0]), 'hello all');
    a.close();
    b.close();
  } finally {
    await server.stop();
  }
});

test('Socket.IO server: a message goes to every client of its room, the sender included, and to no other room', async () => {
  const server = await start('socketio.js', []);
  const clients: IoSocket[] = [];
  try {
    const join = async (room: string) => {
      const socket = ioClient(`http://127.0.0.1:${server.port}`, { transports: ['websocket'], query: { room }, reconnection: false });
      clients.push(socket);
      await once(socket as never, 'connect');
      return socket;
    };
    const [a1, a2, b1] = [await join('a'), await join('a'), await join('b')];
    const seen: string[] = [];
    b1.on('msg', (data: string) => seen.push(`b1 ${data}`));
    const toA1 = new Promise<string>((done) => a1.once('msg', done));
    const toA2 = new Promise<string>((done) => a2.once('msg', done));
    a1.emit('msg', 'for room a');
    assert.equal(await toA1, 'for room a');
    assert.equal(await toA2, 'for room a');
    // A message to room b reaches b1 after anything for a that could have gone astray.
    const toB1 = new Promise<string>((done) => b1.once('msg', done));
    b1.emit('msg', 'for room b');
    assert.equal(await toB1, 'for room b');
    assert.deepEqual(seen, ['b1 for room b']);
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
});
