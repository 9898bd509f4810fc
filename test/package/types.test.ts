// The published declarations (dist/*.d.ts, as `npm test` builds them) as a TypeScript user meets them: a
// project that imports 'wavecast' the ESM way and one that require()s it the CommonJS way type-check with
// strict settings and skipLibCheck off, using the API as `@types/ws` types it (a `ws`-typed ClientOptions
// passes, a Wavecast socket goes where a `ws` one is expected); and no internals (underscore members) are
// published, but for the protected members BrokerAdapter's subclasses implement.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ESM = `import WebSocket, { WebSocketServer, createWebSocketStream } from 'wavecast';
import type * as ws from 'ws';

const wss = new WebSocketServer({
  port: 0,
  perMessageDeflate: { threshold: 1024 },
  verifyClient: (info, done) => done(info.origin === 'https://app.example', 403, 'no'),
  handleProtocols: (protocols, request) => (protocols.has('chat') && request.url === '/' ? 'chat' : false),
});
wss.on('connection', (socket, request) => {
  socket.on('message', (data, isBinary) => {
    wss.clients.forEach((client) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
  socket.on('close', (code, reason) => console.log(code, reason.toString()));
  socket.on('error', (error) => console.log(error.message));
  socket.ping();
  socket.pong(Buffer.alloc(0), false, (error) => console.log(error));
  console.log(request.url ?? '');
});
wss.on('headers', (headers, request) => headers.push(\`X-Url: \${request.url}\`));
const client = new WebSocket('ws://localhost:8080', ['chat'], { headers: { Authorization: 'x' }, perMessageDeflate: false, handshakeTimeout: 5000 });
client.onopen = (event) => event.target.send('hi');
client.onmessage = (event: WebSocket.MessageEvent) => console.log(event.data);
client.addEventListener('close', (event) => console.log(event.code, event.reason, event.wasClean));
client.on('upgrade', (response) => console.log(response.headers));
client.on('unexpected-response', (request, response) => console.log(request.path, response.statusCode));
client.on('redirect', (url, request) => request.removeHeader(url));
const other = new WebSocket.Server({ noServer: true });
other.handleUpgrade({} as never, {} as never, Buffer.alloc(0), (socket, request) => other.emit('connection', socket, request));
createWebSocketStream(client, { encoding: 'utf8' }).pipe(process.stdout);
WebSocket.createWebSocketStream(client).end();
let raw: WebSocket.RawData = Buffer.alloc(0);
raw = [Buffer.alloc(1)];
console.log(raw);
const options: ws.ClientOptions = { headers: { a: 'b' }, protocolVersion: 13, rejectUnauthorized: false, followRedirects: true };
const fromWsTypes = new WebSocket('ws://x', options);
function takesWs(socket: ws.WebSocket): void {
  console.log(socket.url);
}
takesWs(client);
const typed: WebSocket = fromWsTypes;
const state: 0 | 1 | 2 | 3 = typed.readyState;
console.log(state, WebSocket.CONNECTING, typed.CLOSED);
// A subclass as the server's WebSocket option, as with @types/ws: its sockets are typed as the subclass.
class Tagged extends WebSocket {
  tag = '';
}
const tagged: WebSocketServer<typeof Tagged> = new WebSocketServer({ noServer: true, WebSocket: Tagged });
tagged.on('connection', (socket) => console.log(socket.tag.length));
tagged.clients.forEach((client) => console.log(client.tag, client instanceof WebSocket));
tagged.handleUpgrade({} as never, {} as never, Buffer.alloc(0), (socket) => console.log(socket.tag));
const plain: WebSocketServer = wss;
plain.on('connection', (socket: WebSocket) => takesWs(socket));
`;

const CJS = `import WebSocket = require('wavecast');
const wss = new WebSocket.Server({ port: 0 });
const wss2 = new WebSocket.WebSocketServer({ noServer: true });
const client: WebSocket = new WebSocket('ws://x');
let data: WebSocket.RawData | undefined;
client.on('message', (message, isBinary) => {
  data = message;
  console.log(isBinary, data);
});
const stream = WebSocket.createWebSocketStream(client);
console.log(wss.clients.size, wss2.options.noServer, stream.readable);
`;

test('ESM and CommonJS projects written against the ws API type-check against the published declarations', {
  timeout: 120_000,
}, async () => {
  const project = mkdtempSync(join(tmpdir(), 'wavecast-types-'));
  dirs.push(project);
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(project, 'node_modules', 'wavecast'));
  for (const name of ['@types/node', '@types/ws', 'undici-types']) {
    if (existsSync(join(ROOT, 'node_modules', name))) symlinkSync(join(ROOT, 'node_modules', name), join(project, 'node_modules', name));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'types-consumer', private: true, type: 'module' }));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      },
      include: ['*.mts', '*.cts'],
    }),
  );
  writeFileSync(join(project, 'esm.mts'), ESM);
  writeFileSync(join(project, 'cjs.cts'), CJS);
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await run(process.execPath, [tsc, '-p', project]).catch((error: { stdout: string }) => error);
  assert.equal(result.stdout, '', 'tsc reported errors');
});

test('no internals in the published declarations: no underscore member reachable from the package entry', () => {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue = [join(ROOT, 'dist', 'index.d.ts'), join(ROOT, 'dist', 'index.d.cts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import|require\()\s*['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), specifier!)
        .replace(/\.js$/, '.d.ts')
        .replace(/\.cjs$/, '.d.cts');
      if (existsSync(target)) queue.push(target);
    }
    text.split('\n').forEach((line, index) => {
      if (!/^\s*(\/\/|\*|\/\*)/.test(line) && /(^|[\s.(,])_[A-Za-z]\w*\s*[?(:;<]/.test(line))
        found.push(`${file.slice(ROOT.length)}:${index + 1}: ${line.trim()}`);
    });
  }
  assert.ok(seen.size > 10, `read the declarations (${seen.size} files)`);
  // BrokerAdapter's protected members (and its protected constructor's) are what its subclasses implement.
  const internals = found.filter((line) => !(line.startsWith('dist/cluster/broker-adapter.d.ts') && !/\bprivate\b/.test(line)));
  assert.deepEqual(internals, []);
});
