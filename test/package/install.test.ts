// Wavecast as another project gets it: `npm pack` here, then a new project outside the repository
// installs the tarball (from npm's cache only: `--offline`; the package has no dependencies) and runs
// the seed's broadcast server (examples/broadcast.js) with it, a CommonJS client that require()s it, a
// CommonJS program written for `ws` (require('ws') becomes require('wavecast'), nothing else changes; its
// output is compared with what it prints with `ws` itself, installed beside), and the installed `wavecast`
// command. The package ships no source maps and no sources, and a LICENSE.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const dirs: string[] = [];
const children: ChildProcess[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The environment for npm: none of the npm_* settings of the `npm test` that runs this. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value;
  return env;
}

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesBelow(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

// A CommonJS client: two connections to the broadcast server; the first sends a line, and both must
// get it back, as text.
const CLIENT = `const { WebSocket } = require('wavecast');
const url = process.argv[2];
const sockets = [new WebSocket(url), new WebSocket(url)];
let opened = 0;
let received = 0;
for (const socket of sockets) {
  socket.on('error', (error) => { console.error(error.message); process.exit(1); });
  socket.on('open', () => { if (++opened === 2) sockets[0].send('hello from require'); });
  socket.on('message', (data, isBinary) => {
    console.log(\`\${isBinary ? 'binary' : 'text'}: \${data}\`);
    if (++received === 2) for (const s of sockets) s.close();
  });
}
`;

// A program as `ws`'s README writes them: the module is the class, WebSocket.Server, readyState constants,
// createWebSocketStream. It prints what a user would look at.
const WS_PROGRAM = `const WebSocket = require('ws');
const wss = new WebSocket.Server({ port: 0 });
wss.on('connection', function connection(ws) {
  ws.on('error', console.error);
  ws.on('message', function message(data, isBinary) {
    wss.clients.forEach(function each(client) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
  ws.send('something');
});
wss.on('listening', function () {
  const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
  const lines = [];
  ws.on('error', console.error);
  ws.on('open', function open() {
    ws.send(Buffer.from([1, 2, 3]));
  });
  ws.on('message', function message(data, isBinary) {
    lines.push((isBinary ? 'binary ' : 'text ') + Buffer.isBuffer(data) + ' ' + data.toString('hex'));
    if (lines.length === 2) WebSocket.createWebSocketStream(ws).end();
  });
  ws.on('close', function close(code) {
    console.log(lines.join('\\n'));
    console.log('close ' + code + ', ' + [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED].join() + ', ' + (WebSocket.WebSocketServer === WebSocket.Server));
    wss.close();
  });
});
`;

test('a project outside the repository installs the packed tarball and runs the broadcast server, a require() client, a program written for ws (the same output as with ws) and the wavecast command', {
  timeout: 180_000,
}, async () => {
  const packDir = mkdtempSync(join(tmpdir(), 'wavecast-pack-'));
  const project = mkdtempSync(join(tmpdir(), 'wavecast-project-'));
  dirs.push(packDir, project);

  // dist/ is built (npm test builds first): pack it as it is, without running `prepare` again.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT, env: npmEnv() });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: Array<{ path: string }> }];
  const paths = files.map((file) => file.path);
  assert.ok(paths.includes('LICENSE'), 'LICENSE is in the package');
  assert.deepEqual(
    paths.filter((path) => path.endsWith('.map') || path.startsWith('src/')),
    [],
    'no source maps, no sources',
  );

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-wavecast', version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(packDir, filename)], { cwd: project, env: npmEnv() });
  const installed = join(project, 'node_modules', 'wavecast');
  assert.equal(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).dependencies.wavecast.startsWith('file:'), true);
  assert.ok(existsSync(join(installed, 'dist', 'index.d.ts')), 'the types are installed');
  const pointing = filesBelow(installed).filter(
    (path) => path.endsWith('.js') && readFileSync(join(installed, path), 'utf8').includes('sourceMappingURL'),
  );
  assert.deepEqual(pointing, [], 'no .js points at a source map');

  // The seed's broadcast server as it is, but on a free port (0 instead of 3000) and saying which.
  const example = readFileSync(join(ROOT, 'examples', 'broadcast.js'), 'utf8');
  assert.match(example, /^import \{ WebSocketServer \} from 'wavecast';$/m);
  assert.ok(example.includes('{ port: 3000 }'));
  writeFileSync(
    join(project, 'server.js'),
    `${example.replace('{ port: 3000 }', '{ port: 0 }')}\nwss.on('listening', () => console.log(wss.address().port));\n`,
  );
  writeFileSync(join(project, 'client.cjs'), CLIENT);

  const server = spawn(process.execPath, ['server.js'], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(server);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    server.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (/^\d+\n/.test(out)) resolve(Number.parseInt(out, 10));
    });
    server.on('exit', (code) => reject(new Error(`the broadcast server exited (${code}) before listening`)));
  });
  const url = `ws://127.0.0.1:${port}/`;

  const client = await run(process.execPath, ['client.cjs', url], { cwd: project });
  assert.equal(client.stdout, 'text: hello from require\ntext: hello from require\n');

  // The program written for ws: with ws (packed from this checkout's node_modules, so that no registry nor
  // cache is needed), then with require('wavecast'); the same output.
  const wsDir = join(ROOT, 'node_modules', 'ws');
  const wsVersion = JSON.parse(readFileSync(join(wsDir, 'package.json'), 'utf8')).version;
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir, wsDir], { cwd: ROOT, env: npmEnv() });
  const wsTarball = join(packDir, `ws-${wsVersion}.tgz`);
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-save', wsTarball], { cwd: project, env: npmEnv() });
  writeFileSync(join(project, 'with-ws.cjs'), WS_PROGRAM);
  writeFileSync(join(project, 'with-wavecast.cjs'), WS_PROGRAM.replace("require('ws')", "require('wavecast')"));
  const withWs = await run(process.execPath, ['with-ws.cjs'], { cwd: project });
  const withWavecast = await run(process.execPath, ['with-wavecast.cjs'], { cwd: project });
  assert.equal(withWs.stdout, 'text true 736f6d657468696e67\nbinary true 010203\nclose 1005, 0,1,2,3, true\n');
  assert.equal(withWavecast.stdout, withWs.stdout);
  assert.equal(withWavecast.stderr, '');

  const bin = join(project, 'node_modules', '.bin', 'wavecast');
  const version = await run(bin, ['--version'], { cwd: project });
  assert.equal(version.stdout, `wavecast ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
  const connect = await run(bin, ['connect', '-x', 'hello from the command', '-w', '0', url], { cwd: project });
  assert.equal(connect.stdout, 'hello from the command\n');
  assert.match(connect.stderr, /closed: 1000 \(normal closure\)/);
});
