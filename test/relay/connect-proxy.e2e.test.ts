// The connect proxy (--auth-url) against the real `wavecast serve` process and a small backend in the
// test: the backend's answer is the user (id, name, permissions); its 401/403 reaches the client; a slow
// backend or one that is down refuses new connections with 503 and leaves open ones alone; the backend
// is asked once per connection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from '../helpers/net.js';
import { connect, killAll, record, refusedUpgrade, runServeCommand, startRelay, v1 } from './relay-process.js';

after(killAll);

interface Backend {
  url: string;
  server: Server;
  asked: Array<{ cookie?: string | undefined; authorization?: string | undefined; body: string }>;
  /** ms before answering */
  delay: number;
}

/** A backend that knows two session cookies: ada's (room:*), bob's (lobby only). */
async function backend(): Promise<Backend> {
  const state: Backend = { url: '', server: undefined as unknown as Server, asked: [], delay: 0 };
  state.server = createServer(async (request: IncomingMessage, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    state.asked.push({ cookie: request.headers.cookie, authorization: request.headers.authorization, body });
    if (state.delay > 0) await new Promise((resolve) => setTimeout(resolve, state.delay));
    const json = (value: object) => response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
    if (request.headers.cookie === 'session=ada') return json({ user: 'u-ada', name: 'Ada', subscribe: ['room:*'], publish: ['room:*'] });
    if (request.headers.authorization === 'Bearer bob-key') return json({ user: 'u-bob', name: 'Bob', subscribe: ['lobby'] });
    if (request.headers.cookie === 'session=banned') return response.writeHead(403).end('This account is suspended');
    response.writeHead(401).end('Sign in first');
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/auth`;
  return state;
}

const cookie = (value: string) => ({ headers: { Cookie: value } });

test('backend up: its answer is the user; its refusals reach the client; asked once per connection with the cookie and path', {
  timeout: 30_000,
}, async () => {
  const up = await backend();
  const relay = await startRelay(['--auth-url', up.url]);
  try {
    const ada = await v1(relay, cookie('session=ada'));
    ada.send({ type: 'join', channel: 'room:1', name: 'Mallory' });
    const joined = await ada.next('joined');
    assert.equal(joined.you, 'u-ada');
    assert.deepEqual(joined.presence, { count: 1, names: ['Ada'] });
    ada.send({ type: 'join', channel: 'lobby' });
    assert.equal((await ada.next('error')).code, 'forbidden');
    for (let i = 0; i < 3; i++) ada.send({ type: 'publish', channel: 'room:1', data: `m${i}` });
    await ada.next('message', (e) => e.data === 'm2');
    assert.equal(up.asked.length, 1, 'one question for the connection, none per message');
    assert.deepEqual(up.asked[0], { cookie: 'session=ada', authorization: undefined, body: '{"path":"/"}' });

    const bob = await connect(`${relay.url}/lobby`, { headers: { Authorization: 'Bearer bob-key' } });
    const bobRoom = await refusedUpgrade(`${relay.url}/room:1`, { headers: { Authorization: 'Bearer bob-key' } });
    assert.equal(bobRoom.status, 403);
    assert.equal(up.asked.at(-1)!.body, '{"path":"/room:1"}');
    const anonymous = await refusedUpgrade(`${relay.url}/lobby`);
    assert.deepEqual([anonymous.status, anonymous.body], [401, 'Sign in first']);
    const banned = await refusedUpgrade(`${relay.url}/lobby`, cookie('session=banned'));
    assert.deepEqual([banned.status, banned.body], [403, 'This account is suspended']);
    bob.close();
    ada.client.close();
  } finally {
    await relay.stop();
    up.server.close();
  }
});

test('backend slow, then down: new connections get 503, open ones carry on', { timeout: 30_000 }, async () => {
  const up = await backend();
  const relay = await startRelay(['--auth-url', up.url, '--auth-timeout', '0.3']);
  try {
    const open = await connect(`${relay.url}/room:1`, cookie('session=ada'));
    const log = record(open);

    up.delay = 1000;
    const started = Date.now();
    const slow = await refusedUpgrade(`${relay.url}/room:1`, cookie('session=ada'));
    assert.equal(slow.status, 503);
    assert.match(slow.body, /authentication backend did not answer within 300 ms; try again later/);
    assert.equal(slow.headers['retry-after'], '5');
    assert.ok(Date.now() - started < 1000, 'refused at the timeout, not when the backend answers');

    up.server.closeAllConnections();
    await new Promise<void>((resolve) => up.server.close(() => resolve()));
    const down = await refusedUpgrade(`${relay.url}/room:1`, cookie('session=ada'));
    assert.equal(down.status, 503);
    assert.match(down.body, /authentication backend cannot be reached/);

    open.send('still here');
    assert.equal((await log.next()).text, 'still here');
    open.close();
  } finally {
    await relay.stop();
  }
});

test('--auth-url flags are checked', { timeout: 30_000 }, async () => {
  const bad = await runServeCommand(['--port', '0', '--auth-url', 'ftp://x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--auth-url needs an http:\/\/ or https:\/\/ URL/);
  const both = await runServeCommand([
    '--port',
    '0',
    '--auth-url',
    'http://127.0.0.1:1/',
    '--jwt-secret',
    'a-test-secret-of-32-characters!!',
  ]);
  assert.equal(both.code, 2);
  const slow = await runServeCommand(['--port', '0', '--auth-url', 'http://127.0.0.1:1/', '--auth-timeout', '10']);
  assert.match(slow.stderr, /--auth-timeout \(10\) must be shorter than --handshake-timeout/);
});
