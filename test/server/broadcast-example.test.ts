// The README's first program, unchanged (examples/broadcast.js), with three clients of the `ws` package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WS from 'ws';
import { once } from '../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function connectWhenUp(url: string, deadline: number): Promise<WS> {
  for (;;) {
    const ws = new WS(url);
    ws.on('error', () => {});
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('close', () => resolve(false));
    });
    if (opened) return ws;
    // The program is still starting: it gives no signal across the process boundary, so retry until a deadline.
    if (Date.now() > deadline) throw new Error(`nothing accepted WebSocket connections at ${url}`);
  }
}

test('the broadcast example relays every message to every client, as text', async (t) => {
  const child = spawn(process.execPath, ['examples/broadcast.js'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => child.kill());
  const exited = once(child, 'exit', 60_000).then(([code]) => {
    throw new Error(`the example exited with ${String(code)}`);
  });
  const clients = await Promise.race([
    Promise.all([0, 1, 2].map(() => connectWhenUp('ws://127.0.0.1:3000', Date.now() + 10_000))),
    exited,
  ]);
  const received = clients.map(() => [] as Array<[string, boolean]>);
  const allIn = clients.map(
    (ws, i) =>
      new Promise<void>((resolve) => {
        ws.on('message', (data, isBinary) => {
          received[i]!.push([data.toString(), isBinary]);
          if (received[i]!.length === 3) resolve();
        });
      }),
  );
  clients.forEach((ws, i) => ws.send(`hello from ${i} ✓`));
  await Promise.all(allIn);
  for (const list of received) {
    assert.deepEqual(list.map(([text]) => text).sort(), ['hello from 0 ✓', 'hello from 1 ✓', 'hello from 2 ✓']);
    assert.ok(list.every(([, isBinary]) => isBinary === false), 'text relayed as text, not binary');
  }
  // A peer that breaks the protocol does not bring the program down (it has no 'error' listener).
  const rogue = await connectWhenUp('ws://127.0.0.1:3000', Date.now() + 5_000);
  (rogue as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
  const [code] = await once<[number]>(rogue, 'close');
  assert.equal(code, 1002);
  clients[0]!.send(Buffer.from([1, 2, 3]));
  const [data, isBinary] = await once<[Buffer, boolean]>(clients[1]!, 'message');
  assert.deepEqual([...data], [1, 2, 3]);
  assert.equal(isBinary, true);
  for (const ws of clients) ws.close();
});
