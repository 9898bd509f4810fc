// `wavecast connect` failing as users make it fail, each told in plain words with what to do next, exit
// status 1, no stack trace and no raw internals (OpenSSL's, the HTTP parser's, a page's HTML): nothing
// listening, a name DNS does not know, no answer, wss:// to a plain port, a port that does not speak
// HTTP, an ordinary web page, refused upgrades (401, 403, 404, 503), a redirect without -L; and TLS with
// --ca, -n, and a client certificate with --cert, --key and --passphrase (given, or asked for).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from '../../src/index.js';
import { selfSigned, type Certificate } from '../helpers/certificates.js';
import { closeServer, listenHttp } from '../helpers/net.js';
import { STACK_LINE, killLeftovers, ptyRunner, recordingServer, wavecastOnTerminal, wavecastResult, within } from './helpers.js';

let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wavecast-connect-'));
});

after(async () => {
  killLeftovers();
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `wavecast connect ...args` to its end; checks what every failure shares (exit 1, one clear line). */
async function fails(args: string[]): Promise<string> {
  const result = await within(wavecastResult(['connect', ...args]), `wavecast connect ${args.join(' ')} to exit`);
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stdout, '');
  assert.doesNotMatch(result.stderr, STACK_LINE);
  assert.match(result.stderr, /^wavecast connect: cannot connect to \S+: .+\n$/);
  return result.stderr;
}

/** A TCP server (on 127.0.0.1, port 0) whose connections get `onSocket`; closed (sockets and all) at the end. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  const port = await listenHttp(server);
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return port;
}

/** An HTTP server that answers every upgrade request with `head` and `body` (raw), and GETs with a page. */
async function httpServer(onUpgrade?: (path: string, socket: Socket) => void): Promise<number> {
  const server: HttpServer = createHttpServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!doctype html>\n<html><head><title>Welcome</title></head><body><h1>Hello</h1></body></html>\n');
  });
  if (onUpgrade) server.on('upgrade', (request, socket: Socket) => onUpgrade(request.url ?? '/', socket));
  const port = await listenHttp(server);
  cleanups.push(() => closeServer(server));
  return port;
}

test('nothing listening: says so, and asks whether the server runs and the port is right', async () => {
  // A port that was free a moment ago: nothing listens there now.
  const probe = createTcpServer();
  const port = await listenHttp(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const stderr = await fails([`ws://127.0.0.1:${port}/`]);
  assert.match(
    stderr,
    new RegExp(
      `nothing is listening on 127\\.0\\.0\\.1:${port} \\(connection refused\\)\\. Is the server running, and is the port right\\?`,
    ),
  );
});

test('a host DNS does not know: says which, without the resolver code', async () => {
  const stderr = await fails(['ws://no-such-host.invalid/']);
  assert.match(
    stderr,
    /no such host: DNS does not know "no-such-host\.invalid"\. Check its spelling|cannot look up "no-such-host\.invalid" \(DNS did not answer\)/,
  );
  assert.doesNotMatch(stderr, /getaddrinfo|ENOTFOUND/);
});

test('no answer within --handshake-timeout: says how long it waited and what that may mean', async () => {
  const port = await tcpServer(() => {});
  const stderr = await fails(['--handshake-timeout', '0.2', `ws://127.0.0.1:${port}/`]);
  assert.match(
    stderr,
    new RegExp(`no answer from 127\\.0\\.0\\.1:${port} within 0\\.2 s \\(--handshake-timeout\\)\\. It may not be a WebSocket server`),
  );
});

test('wss:// to a plain ws:// port: says it does not speak TLS and gives the ws:// URL, not OpenSSL internals', async () => {
  // An HTTP server answers the TLS hello with a 400 at once. (A standalone WebSocketServer says nothing
  // until its handshake timeout, 10 s, and then the same message is printed.)
  const port = await httpServer();
  const stderr = await fails([`wss://127.0.0.1:${port}/chat`]);
  assert.match(
    stderr,
    new RegExp(
      `127\\.0\\.0\\.1:${port} does not speak TLS, which wss:// needs\\. If it is a plain server, connect with ws://127\\.0\\.0\\.1:${port}/chat`,
    ),
  );
  assert.doesNotMatch(stderr, /SSL routines|EPROTO|ECONNRESET|openssl/i);
});

test('a port that does not speak HTTP: says so and to check the port, not the parser message', async () => {
  const port = await tcpServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
  const stderr = await fails([`ws://127.0.0.1:${port}/`]);
  assert.match(stderr, new RegExp(`127\\.0\\.0\\.1:${port} answered, but not in HTTP: it is not a WebSocket server\\. Check the port`));
  assert.doesNotMatch(stderr, /Parse Error|HPE_/);
});

test('an ordinary web page (200): says it is not a WebSocket endpoint and to check the path, without its HTML', async () => {
  const port = await httpServer();
  const stderr = await fails([`ws://127.0.0.1:${port}/`]);
  assert.match(
    stderr,
    /it is an ordinary web address, not a WebSocket endpoint: it answered HTTP 200 OK \(text\/html\) instead of switching to WebSocket\. Check the path/,
  );
  assert.doesNotMatch(stderr, /<|doctype|Welcome/i);
});

test('refused upgrades: the status, the first line the server gave, and what to do for 401, 403, 404 and 503', async () => {
  const answers: Record<string, string> = {
    '/401': 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: text/plain\r\n\r\nMissing token\n',
    '/403': 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nOrigin not allowed\n',
    '/404': 'HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html><body>Not here</body></html>',
    '/503': 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nToo many connections\r\x1b[2J\n',
    '/old': 'HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n',
  };
  const port = await httpServer((path, socket) => socket.end(answers[path] ?? 'HTTP/1.1 500 Internal Server Error\r\n\r\n'));
  const url = (path: string) => `ws://127.0.0.1:${port}${path}`;
  assert.match(
    await fails([url('/401')]),
    /the server wants credentials \(HTTP 401 Unauthorized: Missing token\)\. Give them with --auth USER:PASSWORD, or a token with -H "Authorization: Bearer TOKEN"/,
  );
  assert.match(
    await fails([url('/403')]),
    /the server refused this client \(HTTP 403 Forbidden: Origin not allowed\): the credentials or token are not accepted, or the Origin is not allowed \(-o\/--origin sets it\)/,
  );
  const notFound = await fails([url('/404')]);
  assert.match(notFound, /there is nothing at this path \(HTTP 404 Not Found\)\. Check the path in the URL/);
  assert.doesNotMatch(notFound, /<html|Not here/);
  // Control characters in what a server says are shown escaped, not run by the terminal.
  assert.match(
    await fails([url('/503')]),
    /the server failed to take the connection \(HTTP 503 Service Unavailable: Too many connections\\r\\x1b\[2J\)\. Try again later, or look at the server's logs/,
  );
  assert.match(await fails([url('/old')]), /the server redirects \(HTTP 302 Found\) to \/new\. -L \(--location\) follows redirects/);
});

test('-L follows a redirect and says where from', async () => {
  const server = await recordingServer((socket) => socket.close(1000, 'welcome to /new'));
  cleanups.push(() => server.stop());
  const target = server.url.replace(/\/$/, '/new');
  const port = await httpServer((_path, socket) =>
    socket.end(`HTTP/1.1 301 Moved Permanently\r\nLocation: ${target}\r\nContent-Length: 0\r\n\r\n`),
  );
  const result = await within(wavecastResult(['connect', '-L', `ws://127.0.0.1:${port}/old`]), 'wavecast connect to exit');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(server.requests[0]!.url, '/new');
  assert.match(
    result.stderr,
    new RegExp(`^connected to ${target.replace(/[./]/g, '\\$&')} \\(redirected from ws://127\\.0\\.0\\.1:${port}/old\\)\\n`),
  );
});

test('TLS: an untrusted certificate points to --ca and -n; with --ca, or -n (or -k), it connects', async () => {
  const server = selfSigned(dir, 'server');
  const https = createHttpsServer({ cert: server.cert, key: server.key });
  const wss = new WebSocketServer({ server: https });
  wss.on('connection', (socket) => socket.close(1000, 'secure hello'));
  const port = await listenHttp(https);
  cleanups.push(() => {
    for (const client of wss.clients) client.terminate();
    return closeServer(https);
  });
  const url = `wss://127.0.0.1:${port}/`;
  const untrusted = await fails([url]);
  assert.match(
    untrusted,
    /the server's certificate is not trusted \(self-signed certificate\)\. Give the certificate of its authority with --ca FILE, or skip the check with -n\/--no-check/,
  );
  for (const args of [['--ca', server.certFile], ['-n'], ['-k']]) {
    const result = await within(wavecastResult(['connect', ...args, url]), `wavecast connect ${args.join(' ')} to exit`);
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /closed: 1000 \(normal closure\) "secure hello"/);
  }
});

test('TLS with a client certificate: --cert, --key and --passphrase; without them, or with a wrong passphrase, a clear message', async () => {
  const server = selfSigned(dir, 'tls-server');
  const client: Certificate = selfSigned(dir, 'tls-client', { passphrase: 'open sesame' });
  const https = createHttpsServer({ cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: true, ca: [client.cert] });
  const wss = new WebSocketServer({ server: https });
  wss.on('connection', (socket, request) => {
    const peer = (request.socket as import('node:tls').TLSSocket).getPeerCertificate();
    socket.close(1000, `hello ${peer.subject?.CN ?? 'nobody'}`);
  });
  const port = await listenHttp(https);
  cleanups.push(() => {
    for (const c of wss.clients) c.terminate();
    return closeServer(https);
  });
  const url = `wss://127.0.0.1:${port}/`;
  const tls = ['--ca', server.certFile, '--cert', client.certFile, '--key', client.keyFile];

  assert.match(
    await fails(['--ca', server.certFile, url]),
    /the server wants a client certificate\. Give it with --cert FILE and --key FILE/,
  );

  const ok = await within(wavecastResult(['connect', ...tls, '--passphrase', 'open sesame', url]), 'wavecast connect to exit');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /closed: 1000 \(normal closure\) "hello tls-client test CA"/);

  const cases: Array<[string[], RegExp]> = [
    [[...tls, '--passphrase', 'wrong', url], /--key \S+tls-client\.key: wrong passphrase/],
    [[...tls, url], /--key \S+tls-client\.key is encrypted: give --passphrase \(alone, to be asked for it\)/],
    // Piped stdin: nowhere to ask.
    [
      [...tls, '--passphrase', url],
      /--passphrase without a value asks on the terminal, and stdin is not one: give --passphrase=PASSPHRASE/,
    ],
    [['--ca', server.certFile, '--cert', client.certFile, '--key', server.keyFile, url], /--cert \S+ and --key \S+ do not belong together/],
    [['--ca', server.keyFile, url], /--ca: \S+ holds no PEM certificate/],
  ];
  for (const [args, message] of cases) {
    const result = await within(wavecastResult(['connect', ...args]), `wavecast connect ${args.join(' ')} to exit`);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /open sesame|ERR_OSSL|error:/);
  }

  const runner = ptyRunner();
  if (runner === null) return;
  // --passphrase alone on a terminal: asked for, not echoed.
  const run = wavecastOnTerminal(runner, ['connect', ...tls, '--passphrase', url]);
  await run.waitFor(/Passphrase for \S+tls-client\.key: /);
  run.type('open sesame\r');
  assert.equal(await within(run.exited, 'wavecast connect to exit after the passphrase'), 0, run.stdout());
  assert.match(run.stdout(), /closed: 1000 \(normal closure\) "hello tls-client test CA"/);
  assert.doesNotMatch(run.stdout(), /open sesame/);
});
