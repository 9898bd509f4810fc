// Our client against a third implementation: Python's `websockets` (Debian's python3-websockets, run
// with /usr/bin/python3) serving on 127.0.0.1. The server script prints its port, then echoes messages
// (text as text, bytes as bytes), and closes with 4000 when asked to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';
import { SIZES, bytesOfSize, opened, textOfSize } from './helpers.js';

const PYTHON = '/usr/bin/python3';

// websockets 10.x: serve(handler, host, port, ...); the handler may take (websocket, path).
const SERVER_SCRIPT = `
import asyncio
import websockets

async def handler(websocket, path=None):
    async for message in websocket:
        if message == "close-me":
            await websocket.close(4000, "bye from python")
            return
        if message == "path":
            await websocket.send(websocket.path + " " + (websocket.subprotocol or "-"))
            continue
        await websocket.send(message)

async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, subprotocols=["chat"]) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
`;

let python: ChildProcess;
let base: string;
let stderr = '';

before(async () => {
  python = spawn(PYTHON, ['-c', SERVER_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  python.stderr!.setEncoding('utf8');
  python.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: python.stdout! });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Python server printed no port within 10 s; stderr: ${stderr}`)), 10_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
    python.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Python server exited with ${code} (is python3-websockets installed?): ${stderr}`));
    });
  });
  assert.match(port, /^\d+$/, `the Python server printed a port, not: ${port}`);
  base = `ws://127.0.0.1:${port}`;
});

after(async () => {
  if (python.exitCode === null) {
    const exited = once(python, 'exit');
    python.kill('SIGTERM');
    await exited;
  }
});

test('connects to websockets, with the request path and an agreed subprotocol', async () => {
  const socket = await opened(new WebSocket(`${base}/room/1?x=y`, ['chat']));
  assert.equal(socket.protocol, 'chat');
  socket.send('path');
  const [answer] = await once<[Buffer]>(socket, 'message');
  assert.equal(answer.toString(), '/room/1?x=y chat');
  socket.close();
  await once(socket, 'close');
});

test('messages of every size, text and binary, go to websockets and back', async () => {
  const socket = await opened(new WebSocket(`${base}/sizes`));
  for (const size of SIZES) {
    for (const payload of [textOfSize(size), bytesOfSize(size)]) {
      const binary = typeof payload !== 'string';
      socket.send(payload);
      const [echo, isBinary] = await once<[Buffer, boolean]>(socket, 'message', 30_000);
      assert.equal(isBinary, binary, `the ${size}-byte echo kept its kind`);
      assert.equal(echo.length, size);
      assert.ok(binary ? echo.equals(payload) : echo.toString() === payload, `the ${size}-byte echo is unchanged`);
    }
  }
  socket.close();
  await once(socket, 'close');
});

test('a close started by websockets arrives with its code and reason, cleanly', async () => {
  const socket = await opened(new WebSocket(`${base}/`));
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => (socket.onclose = resolve));
  socket.send('close-me');
  const event = await closed;
  assert.deepEqual([event.code, event.reason, event.wasClean], [4000, 'bye from python', true]);
});

test('a close started by the client completes the closing handshake with websockets', async () => {
  const socket = await opened(new WebSocket(`${base}/`));
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => (socket.onclose = resolve));
  socket.close(1000, 'client leaving');
  const event = await closed;
  assert.deepEqual([event.code, event.reason, event.wasClean], [1000, 'client leaving', true]);
});

test('pings from the client are answered by websockets', async () => {
  const socket = await opened(new WebSocket(`${base}/`));
  const pong = once<[Buffer]>(socket, 'pong');
  socket.ping('are you there');
  assert.equal((await pong)[0].toString(), 'are you there');
  socket.close();
  await once(socket, 'close');
});
