// wss:// end to end: our WebSocketServer on an https server, with a certificate made at test time by the
// openssl CLI, and our client trusting it through the `ca` option. A wrong CA, a wrong server name and
// no CA at all each fail as a user expects: error with the TLS reason, then close 1006.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { closeServer, listenHttp, once } from '../helpers/net.js';
import { selfSigned as makeCertificate } from '../helpers/certificates.js';
import { SIZES, bytesOfSize, opened, outcome, textOfSize } from './helpers.js';

let dir: string;
let cert: Buffer;
let otherCa: Buffer;
let server: Server;
let wss: WebSocketServer;
let port: number;

/** A self-signed certificate (its own CA) for localhost and 127.0.0.1, valid for a day. */
function selfSigned(name: string): { cert: Buffer; key: Buffer } {
  return makeCertificate(dir, name);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wavecast-tls-'));
  const serverPair = selfSigned('wavecast');
  cert = serverPair.cert;
  otherCa = selfSigned('unrelated').cert;
  server = createServer({ cert: serverPair.cert, key: serverPair.key });
  wss = new WebSocketServer({ server });
  wss.on('connection', (socket, request) => {
    socket.on('message', (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }));
    socket.send(`secure: ${String((request.socket as { encrypted?: boolean }).encrypted)}`);
  });
  port = await listenHttp(server);
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});

test('wss:// with the server certificate as CA: open, messages of every size both ways, clean close', async () => {
  const socket = new WebSocket(`wss://127.0.0.1:${port}/secure`, { ca: cert });
  const [greeting] = await once<[Buffer]>(socket, 'message');
  assert.equal(greeting.toString(), 'secure: true');
  assert.equal(socket.url, `wss://127.0.0.1:${port}/secure`);
  for (const size of SIZES) {
    for (const payload of [textOfSize(size), bytesOfSize(size)]) {
      socket.send(payload);
      const [echo, isBinary] = await once<[Buffer, boolean]>(socket, 'message', 20_000);
      assert.equal(isBinary, typeof payload !== 'string', `kind of the ${size}-byte echo`);
      assert.equal(echo.length, size);
      assert.ok(typeof payload === 'string' ? echo.toString() === payload : echo.equals(payload), `the ${size}-byte echo is unchanged`);
    }
  }
  const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => (socket.onclose = resolve));
  socket.close(1000);
  const event = await closed;
  assert.deepEqual([event.code, event.wasClean], [1000, true]);
});

test('https:// URLs connect with TLS too, and servername checks the certificate name', async () => {
  const socket = await opened(new WebSocket(`https://127.0.0.1:${port}/`, { ca: cert, servername: 'localhost' }));
  assert.equal(socket.url, `wss://127.0.0.1:${port}/`);
  socket.close();
  await once(socket, 'close');
});

test('a certificate from another CA: error naming the TLS failure, then close 1006; the server carries on', async () => {
  const result = await outcome(new WebSocket(`wss://127.0.0.1:${port}/`, { ca: otherCa }));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.match((result.error as NodeJS.ErrnoException).code ?? '', /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
  assert.equal(result.code, 1006);
  // The server still serves others.
  const ok = await opened(new WebSocket(`wss://127.0.0.1:${port}/`, { ca: cert }));
  ok.close();
  await once(ok, 'close');
});

test('no CA option: the default trust store refuses the test certificate', async () => {
  const result = await outcome(new WebSocket(`wss://127.0.0.1:${port}/`));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.match((result.error as NodeJS.ErrnoException).code ?? '', /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
  assert.equal(result.code, 1006);
});

test('a server name the certificate does not cover fails the connection', async () => {
  const result = await outcome(new WebSocket(`wss://127.0.0.1:${port}/`, { ca: cert, servername: 'wrong.example' }));
  assert.deepEqual(result.events, ['error', 'close']);
  assert.equal((result.error as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(result.code, 1006);
});

test('rejectUnauthorized: false accepts the untrusted certificate', async () => {
  const socket = await opened(new WebSocket(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false }));
  socket.close();
  await once(socket, 'close');
});
