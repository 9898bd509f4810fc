// permessage-deflate with real third-party clients against our server: Debian's Chromium (driven by
// playwright-core) and Python's websockets (Debian's python3-websockets under /usr/bin/python3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import type { WebSocket } from '../../src/connection/websocket.js';
import type { DeflateCodec } from '../../src/connection/deflate-codec.js';
import { WebSocketServer } from '../../src/server/websocket-server.js';
import { launchBrowser } from '../helpers/browser.js';
import { noise } from '../helpers/deflate.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';

/** The part of the browser's WebSocket the page script uses. */
interface BrowserSocket {
  binaryType: string;
  readonly extensions: string;
  onopen: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

let server: Server;
let wss: WebSocketServer;
let port: number;
let browser: Browser | undefined;

before(async () => {
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html><head><meta charset="utf-8"><title>wavecast deflate</title></head><body></body></html>');
  });
  wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: true });
  port = await listenHttp(server);
});

after(async () => {
  await browser?.close();
  for (const client of wss?.clients ?? []) client.terminate();
  wss?.close();
  if (server) await closeServer(server);
});

/** Counts the messages the connection's codec compresses and inflates. */
function countZlib(socket: WebSocket): { compressed: number; inflated: number } {
  const codec = socket._compression as DeflateCodec | null;
  assert.ok(codec, 'permessage-deflate was negotiated');
  const counts = { compressed: 0, inflated: 0 };
  const compress = codec.compress.bind(codec);
  const decompress = codec.decompress.bind(codec);
  codec.compress = (data, fin, callback) => {
    counts.compressed++;
    compress(data, fin, callback);
  };
  codec.decompress = (data, fin, callback) => {
    counts.inflated++;
    decompress(data, fin, callback);
  };
  return counts;
}

function nextMessages(socket: WebSocket, count: number): Promise<{ data: Buffer; isBinary: boolean }[]> {
  return new Promise((resolve, reject) => {
    const got: { data: Buffer; isBinary: boolean }[] = [];
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${count} messages`)), 20_000);
    const onMessage = (data: Buffer, isBinary: boolean) => {
      got.push({ data: Buffer.from(data), isBinary });
      if (got.length < count) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(got);
    };
    socket.on('message', onMessage);
  });
}

/** What the server sends a peer, which echoes each message back: large text, small text, large binary. */
const OUTGOING: { data: Buffer; isBinary: boolean }[] = [
  {
    data: Buffer.from(
      JSON.stringify({ users: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user ${i}`, online: i % 3 === 0 })) }),
    ),
    isBinary: false,
  },
  { data: Buffer.from('short and plain'), isBinary: false },
  { data: Buffer.concat([noise(4000, 21), noise(4000, 21), Buffer.from('é€😀 and text, text, text '.repeat(50))]), isBinary: true },
];

test('Chromium negotiates permessage-deflate with our server and messages arrive intact both ways', { timeout: 90_000 }, async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/`);
    const connected = once<[WebSocket, IncomingMessage]>(wss, 'connection', 20_000);
    // Runs in the page: the browser's own WebSocket, which echoes whatever it receives.
    const extensions = page.evaluate(async (url: string) => {
      const page = globalThis as unknown as { WebSocket: new (url: string) => BrowserSocket; socket: BrowserSocket };
      const ws = new page.WebSocket(url);
      ws.binaryType = 'arraybuffer';
      page.socket = ws;
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('websocket error'));
      });
      ws.onmessage = (event) => ws.send(event.data);
      return ws.extensions;
    }, `ws://127.0.0.1:${port}/ws`);
    const [socket, request] = await connected;
    assert.equal(request.headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
    assert.match(await extensions, /^permessage-deflate/);
    assert.equal(socket.extensions, 'permessage-deflate');
    const counts = countZlib(socket);

    const echoes = nextMessages(socket, OUTGOING.length);
    for (const m of OUTGOING) socket.send(m.data, { binary: m.isBinary });
    assert.deepEqual(await echoes, OUTGOING);
    assert.equal(counts.compressed, 2, 'the two large messages went compressed, the small one plain');
    assert.ok(counts.inflated >= 2, 'Chromium compressed its echoes');

    const text = 'Chromium says: ' + 'a compressible sentence, '.repeat(400) + '✓';
    const fromBrowser = nextMessages(socket, 1);
    const before = counts.inflated;
    await page.evaluate((t: string) => (globalThis as unknown as { socket: BrowserSocket }).socket.send(t), text);
    const [message] = await fromBrowser;
    assert.equal(message!.isBinary, false);
    assert.equal(message!.data.toString(), text);
    assert.equal(counts.inflated, before + 1);

    const closed = once<[number]>(socket, 'close');
    await page.evaluate(() => (globalThis as unknown as { socket: BrowserSocket }).socket.close(1000, 'bye'));
    assert.equal((await closed)[0], 1000);
  } finally {
    await page.close();
  }
});

const PYTHON_CLIENT = `
import asyncio, json, sys
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

async def main(url, params):
    extensions = [ClientPerMessageDeflateFactory(**params)] if params is not None else None
    async with websockets.connect(url, compression='deflate' if extensions is None else None, extensions=extensions, max_size=2 ** 24) as ws:
        report = {'extensions': ws.response_headers.get('Sec-WebSocket-Extensions'), 'echoed': 0}
        while True:
            message = await ws.recv()
            if message == 'done':
                break
            await ws.send(message)
            report['echoed'] += 1
        text = 'python says hello ' * 1000
        await ws.send(text)
        report['reply'] = await ws.recv()
        await ws.close()
        print(json.dumps(report))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
`;

function runPython(params: Record<string, unknown> | null): Promise<{ extensions: string; echoed: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', PYTHON_CLIENT, `ws://127.0.0.1:${port}/ws`, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python exited with ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

for (const [name, params, response] of [
  ['default offer', null, 'permessage-deflate'],
  [
    'every parameter',
    { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: 10, client_max_window_bits: 11 },
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
  ],
] as const) {
  test(`Python websockets (${name}) exchanges compressed messages with our server`, { timeout: 60_000 }, async () => {
    const connected = once<[WebSocket]>(wss, 'connection', 20_000);
    const result = runPython(params);
    const [socket] = await connected;
    const counts = countZlib(socket);
    const echoes = nextMessages(socket, OUTGOING.length + 1);
    for (const m of OUTGOING) socket.send(m.data, { binary: m.isBinary });
    socket.send('done');
    const got = await echoes;
    assert.deepEqual(got.slice(0, OUTGOING.length), OUTGOING);
    const last = got[OUTGOING.length]!;
    assert.equal(last.data.toString(), 'python says hello '.repeat(1000));
    socket.send(`got ${last.data.length} bytes`);
    const report = await result;
    assert.equal(report.extensions, response);
    assert.equal(report.echoed, OUTGOING.length);
    assert.equal(report.reply, `got ${'python says hello '.repeat(1000).length} bytes`);
    assert.equal(counts.compressed, 2, 'the two large messages; the small ones went plain');
    assert.equal(counts.inflated, OUTGOING.length + 1, 'Python compresses every message');
  });
}
