// The README's first program (examples/broadcast.js), unchanged but for its port (0, a free one, instead
// of 3000, and a line saying which), with three clients of the `ws` package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WS from 'ws';
import { once } from '../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The example on a free port, inside the package (so that `import 'wavecast'` finds it). */
function exampleOnFreePort(): string {
  const example = readFileSync(`${root}examples/broadcast.js`, 'utf8');
  assert.ok(example.includes('{ port: 3000 }'));
  mkdirSync(`${root}build/examples`, { recursive: true });
  const path = `${root}build/examples/broadcast-port-0.js`;
  writeFileSync(path, `${example.replace('{ port: 3000 }', '{ port: 0 }')}\nwss.on('listening', () => console.log(wss.address().port));\n`);
  return path;
}

async function open(url: string): Promise<WS> {
  const ws = new WS(url);
  await once(ws, 'open');
  return ws;
}

test('the broadcast example relays every message to every client, as text', async (t) => {
  const child = spawn(process.execPath, [exampleOnFreePort()], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (/^\d+\n/.test(out)) resolve(Number.parseInt(out, 10));
    });
    child.once('exit', (code) => reject(new Error(`the example exited with ${String(code)} before listening`)));
  });
  const url = `ws://127.0.0.1:${port}`;
  const clients = await Promise.all([0, 1, 2].map(() => open(url)));
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
    assert.ok(
      list.every(([, isBinary]) => isBinary === false),
      'text relayed as text, not binary',
    );
  }
  // A peer that breaks the protocol does not bring the program down (it has no 'error' listener).
  const rogue = await open(url);
  (rogue as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
  const [code] = await once<[number]>(rogue, 'close');
  assert.equal(code, 1002);
  clients[0]!.send(Buffer.from([1, 2, 3]));
  const [data, isBinary] = await once<[Buffer, boolean]>(clients[1]!, 'message');
  assert.deepEqual([...data], [1, 2, 3]);
  assert.equal(isBinary, true);
  for (const ws of clients) ws.close();
});
