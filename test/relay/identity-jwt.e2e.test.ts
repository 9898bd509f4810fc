// JWT connection tokens against the real `wavecast serve` process: tokens signed by jose in HS256,
// RS256, ES256 and EdDSA (PEM keys and a JWKS file), each refusal with its 401 reason, the user's id and
// name in what others see, channel permissions (403 on a plain upgrade, `forbidden` on wavecast.v1),
// the `auth` envelope, expiry (4001) and refresh.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { closed, connect, http, killAll, record, refusedUpgrade, ROOT, runServeCommand, startRelay, v1 } from './relay-process.js';
import { removeTempDirs, tempDir, textUpdate } from './yjs-helpers.js';

after(() => {
  killAll();
  removeTempDirs();
});

const SECRET = 'a-test-secret-of-32-characters!!';
const dir = mkdtempSync(join(tmpdir(), 'wavecast-jwt-'));
const now = () => Math.floor(Date.now() / 1000);

type Claims = Record<string, unknown>;

function hs256(claims: Claims, secret = SECRET, alg = 'HS256'): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

const ROOMS = { subscribe: ['room:*', 'lobby'], publish: ['room:*'] };

/** An unsigned token (alg "none"), as an attacker would write one. */
function unsigned(claims: Claims): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

test('HS256: a token in Authorization or ?token= opens a channel; each bad token is a 401 with its reason', {
  timeout: 60_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--jwt-leeway', '2']);
  try {
    const good = await hs256({ sub: 'ada', ...ROOMS, exp: now() + 60 });
    (await connect(`${relay.url}/lobby`, bearer(good))).close();
    (await connect(`${relay.url}/lobby?token=${good}`)).close();
    // Within the leeway: accepted.
    (await connect(`${relay.url}/lobby`, bearer(await hs256({ sub: 'ada', ...ROOMS, exp: now() - 1 })))).close();

    const refusals: Array<[string, string, RegExp]> = [
      ['no token', '', /A token is required/],
      ['bad signature', await hs256({ sub: 'ada', ...ROOMS }, 'another-secret-of-32-characters!'), /signature is not valid/],
      ['alg none', unsigned({ sub: 'ada', ...ROOMS }), /alg "none"\) are refused/],
      ['wrong alg', await hs256({ sub: 'ada', ...ROOMS }, SECRET, 'HS512'), /algorithm "HS512" is not accepted here \(accepted: HS256\)/],
      ['expired', await hs256({ sub: 'ada', ...ROOMS, exp: now() - 30 }), /expired/],
      ['not yet valid', await hs256({ sub: 'ada', ...ROOMS, nbf: now() + 30 }), /not valid yet/],
      ['no sub', await hs256({ ...ROOMS }), /no "sub"/],
      ['garbage', 'not.a.jwt', /not a valid JWT/],
    ];
    for (const [what, token, reason] of refusals) {
      const refused = await refusedUpgrade(`${relay.url}/lobby`, token === '' ? {} : bearer(token));
      assert.equal(refused.status, 401, what);
      assert.match(refused.body, reason, what);
      assert.equal(refused.headers['www-authenticate'], 'Bearer realm="wavecast"', what);
    }
  } finally {
    await relay.stop();
  }
});

for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
  test(`${alg}: a PEM public key and a JWKS file verify tokens signed with the private key; another key's are refused`, {
    timeout: 60_000,
  }, async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
    const other = await jose.generateKeyPair(alg, { extractable: true });
    const pem = join(dir, `${alg}.pem`);
    writeFileSync(pem, await jose.exportSPKI(publicKey));
    const jwks = join(dir, `${alg}.jwks.json`);
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'k1', alg }] }));
    const sign = (key: jose.CryptoKey, kid?: string) =>
      new jose.SignJWT({ sub: 'ada', ...ROOMS, exp: now() + 60 }).setProtectedHeader(kid === undefined ? { alg } : { alg, kid }).sign(key);
    for (const keyFile of [pem, jwks]) {
      const relay = await startRelay(['--jwt-key', keyFile]);
      try {
        (await connect(`${relay.url}/lobby`, bearer(await sign(privateKey, 'k1')))).close();
        const refused = await refusedUpgrade(`${relay.url}/lobby`, bearer(await sign(other.privateKey, 'k1')));
        assert.equal(refused.status, 401);
        assert.match(refused.body, /signature is not valid/);
        // An HS256 token made with the public key as its secret (the classic key-confusion attack).
        const confused = await hs256({ sub: 'ada', ...ROOMS }, await jose.exportSPKI(publicKey));
        const wrongAlg = await refusedUpgrade(`${relay.url}/lobby`, bearer(confused));
        assert.equal(wrongAlg.status, 401);
        assert.match(wrongAlg.body, /"HS256" is not accepted|No key of the relay's key set/);
      } finally {
        await relay.stop();
      }
    }
  });
}

test('a key file that cannot be used, or a short secret, stops the start with a clear message', { timeout: 30_000 }, async () => {
  const missing = await runServeCommand(['--port', '0', '--jwt-key', join(dir, 'nope.pem')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--jwt-key: cannot read .*nope\.pem \(ENOENT\)/);
  const short = await runServeCommand(['--port', '0', '--jwt-secret', 'short']);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /--jwt-secret must be at least 16 characters/);
});

test('without the optional jose package, a relay asked for JWT tokens does not start and says to install it', {
  timeout: 30_000,
}, async () => {
  // This build, copied where no node_modules can be found: jose cannot be loaded, as when it is not installed.
  const alone = tempDir();
  cpSync(join(ROOT, 'dist'), join(alone, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(alone, 'package.json'));
  const cli = join(alone, 'dist', 'cli', 'main.js');
  const { NODE_PATH: _, ...env } = process.env;
  const started = await runServeCommand(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', SECRET], env, cli);
  assert.equal(started.code, 1);
  assert.match(
    started.stderr,
    /cannot start the relay: JWT tokens \(--jwt-secret, --jwt-key\) need the jose package \(an optional peer dependency of wavecast\): npm install jose/,
  );
  // The same copy starts without JWT flags: it was jose that was missing, nothing else.
  const open = await startRelay([], {}, { cli });
  await open.stop();
});

test('permissions: a plain upgrade to a channel not granted is 403; publishing without the right closes a plain client with 1008', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET]);
  try {
    const token = await hs256({ sub: 'ada', ...ROOMS });
    const refused = await refusedUpgrade(`${relay.url}/secret`, bearer(token));
    assert.equal(refused.status, 403);
    assert.match(refused.body, /User "ada" may not subscribe to "secret"/);
    // lobby: may read, may not write.
    const reader = await connect(`${relay.url}/lobby`, bearer(token));
    reader.send('hello');
    assert.deepEqual(await closed(reader), { code: 1008, reason: 'You may not publish on this channel' });
    // room:1: may do both.
    const a = await connect(`${relay.url}/room:1`, bearer(token));
    const log = record(a);
    a.send('hi');
    assert.equal((await log.next()).text, 'hi');
    a.close();
  } finally {
    await relay.stop();
  }
});

test('wavecast.v1: a join or publish not granted is a forbidden error and the connection stays open; from and presence are the verified user', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET]);
  try {
    const ada = await v1(relay, bearer(await hs256({ sub: 'u-ada', name: 'Ada', ...ROOMS })));
    const bob = await v1(relay, bearer(await hs256({ sub: 'u-bob', name: 'Bob', subscribe: ['room:*'], publish: ['room:*'] })));
    ada.send({ type: 'join', channel: 'secret' });
    assert.deepEqual(await ada.next('error'), {
      type: 'error',
      code: 'forbidden',
      message: 'User "u-ada" may not subscribe to "secret"',
      channel: 'secret',
    });
    ada.send({ type: 'join', channel: 'lobby' });
    await ada.next('joined', (e) => e.channel === 'lobby');
    ada.send({ type: 'publish', channel: 'lobby', data: 'x', id: 7 });
    assert.deepEqual(await ada.next('error'), {
      type: 'error',
      code: 'forbidden',
      message: 'User "u-ada" may not publish on "lobby"',
      id: 7,
      channel: 'lobby',
    });

    // A name in the join is ignored: others see the token's.
    ada.send({ type: 'join', channel: 'room:1', name: 'Bob' });
    const joined = await ada.next('joined', (e) => e.channel === 'room:1');
    assert.equal(joined.you, 'u-ada');
    bob.send({ type: 'join', channel: 'room:1', name: 'Ada' });
    const bobJoined = await bob.next('joined');
    assert.deepEqual(bobJoined.presence, { count: 2, names: ['Ada', 'Bob'] });
    // Presence events carry the verified user id beside the name.
    const bobEvent = (event: string, count: number) => ({ type: 'presence', channel: 'room:1', event, name: 'Bob', user: 'u-bob', count });
    assert.deepEqual(await ada.next('presence'), bobEvent('join', 2));
    bob.send({ type: 'publish', channel: 'room:1', data: 'hello', id: 1 });
    const seen = await ada.next('message', (e) => e.data === 'hello');
    assert.equal(seen.from, 'u-bob');
    bob.send({ type: 'leave', channel: 'room:1' });
    assert.deepEqual(await ada.next('presence'), bobEvent('leave', 1));
    ada.send({ type: 'ping', id: 'still-open' });
    await ada.next('pong');
    ada.client.close();
    bob.client.close();
  } finally {
    await relay.stop();
  }
});

test('wavecast.v1 without a token: only auth (and ping) until authenticated; no auth in time closes with 4002', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--handshake-timeout', '1']);
  try {
    const client = await v1(relay);
    client.send({ type: 'join', channel: 'lobby' });
    assert.equal((await client.next('error')).code, 'unauthorized');
    client.send({ type: 'auth', token: await hs256({ sub: 'ada', ...ROOMS, exp: now() - 60 }), id: 'a1' });
    assert.deepEqual(await client.next('error'), {
      type: 'error',
      code: 'unauthorized',
      message: 'The token has expired (exp is past)',
      id: 'a1',
    });
    const exp = now() + 60;
    client.send({ type: 'auth', token: await hs256({ sub: 'ada', name: 'Ada', ...ROOMS, exp }), id: 'a2' });
    assert.deepEqual(await client.next('authed'), { type: 'authed', user: 'ada', name: 'Ada', exp, id: 'a2' });
    client.send({ type: 'join', channel: 'lobby' });
    await client.next('joined');

    const silent = await v1(relay);
    const started = Date.now();
    assert.deepEqual(await closed(silent.client), { code: 4002, reason: 'No valid auth envelope in time' });
    assert.ok(Date.now() - started < 3000);
    client.client.close();
  } finally {
    await relay.stop();
  }
});

test('expiry: a plain client is closed with 4001 at exp; a wavecast.v1 client stays with a fresh auth, for the same user only', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--jwt-leeway', '0']);
  try {
    const plain = await connect(`${relay.url}/lobby`, bearer(await hs256({ sub: 'ada', ...ROOMS, exp: now() + 2 })));
    const refreshed = await v1(relay, bearer(await hs256({ sub: 'ada', ...ROOMS, exp: now() + 2 })));
    const lapsed = await v1(relay, bearer(await hs256({ sub: 'bob', ...ROOMS, exp: now() + 2 })));
    // (Both close at the same sweep: each is listened for from the start.)
    const plainClosed = closed(plain, 10_000);
    const lapsedClosed = closed(lapsed.client, 10_000);
    refreshed.send({ type: 'auth', token: await hs256({ sub: 'eve', ...ROOMS, exp: now() + 60 }) });
    assert.equal((await refreshed.next('error')).code, 'forbidden');
    refreshed.send({ type: 'auth', token: await hs256({ sub: 'ada', ...ROOMS, exp: now() + 60 }) });
    await refreshed.next('authed');
    assert.deepEqual(await plainClosed, { code: 4001, reason: 'Token expired' });
    assert.equal((await lapsedClosed).code, 4001);
    refreshed.send({ type: 'ping', id: 1 });
    await refreshed.next('pong');
    refreshed.client.close();
  } finally {
    await relay.stop();
  }
});

test('a fresh token that allows fewer channels: the connection leaves those, told with forbidden, and stays open', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET]);
  try {
    const ada = await v1(relay, bearer(await hs256({ sub: 'ada', ...ROOMS, exp: now() + 60 })));
    const bob = await v1(relay, bearer(await hs256({ sub: 'bob', ...ROOMS })));
    for (const channel of ['room:1', 'room:2']) {
      bob.send({ type: 'join', channel });
      await bob.next('joined', (e) => e.channel === channel);
      ada.send({ type: 'join', channel });
      await ada.next('joined', (e) => e.channel === channel);
    }
    ada.send({ type: 'auth', token: await hs256({ sub: 'ada', subscribe: ['room:2'], publish: ['room:*'], exp: now() + 120 }), id: 'r' });
    await ada.next('authed');
    assert.deepEqual(await ada.next('error'), {
      type: 'error',
      code: 'forbidden',
      message: 'Left "room:1": User "ada" may not subscribe to "room:1"',
      channel: 'room:1',
    });
    // The others see her leave room:1; she gets no more of it, and still gets room:2.
    const left = await bob.next('presence', (e) => e.channel === 'room:1' && e.event === 'leave');
    assert.equal(left.count, 1);
    bob.send({ type: 'publish', channel: 'room:1', data: 'not for ada' });
    bob.send({ type: 'publish', channel: 'room:2', data: 'for ada' });
    assert.equal((await ada.next('message')).data, 'for ada');
    assert.deepEqual(ada.messages('room:1'), []);
    ada.send({ type: 'publish', channel: 'room:1', data: 'x', id: 2 });
    assert.equal((await ada.next('error', (e) => e.id === 2)).code, 'not_joined');
    ada.send({ type: 'join', channel: 'room:1' });
    assert.equal((await ada.next('error', (e) => e.channel === 'room:1')).code, 'forbidden');
    ada.client.close();
    bob.client.close();
  } finally {
    await relay.stop();
  }
});

test('without JWT flags the relay stays open: anonymous connections, names from the join', { timeout: 30_000 }, async () => {
  const relay = await startRelay();
  try {
    const client = await v1(relay);
    client.send({ type: 'join', channel: 'anything', name: 'Zed' });
    assert.deepEqual((await client.next('joined')).presence, { count: 1, names: ['Zed'] });
    client.client.close();
  } finally {
    await relay.stop();
  }
});

test('documents: the same tokens; docs_write edits, docs_read only reads, any other document is refused', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--jwt-leeway', '0', '--data-dir', tempDir()]);
  try {
    const token = await hs256({ sub: 'ada', docs_write: ['notes/*'], docs_read: ['handbook/*', 'notes/*'] });
    const post = (doc: string, auth: Record<string, string>) =>
      http(relay.http, 'POST', `/docs/${doc}`, {
        headers: { 'Content-Type': 'application/octet-stream', ...auth },
        body: Buffer.from(textUpdate('hello')),
      });
    const auth = { Authorization: `Bearer ${token}` };
    assert.equal((await post('notes/a', auth)).status, 200);
    assert.equal((await http(relay.http, 'GET', '/docs/notes/a?text=text', { headers: auth })).body, 'hello');
    const readOnly = await post('handbook/a', auth);
    assert.equal(readOnly.status, 403);
    assert.match(readOnly.body, /read-only for you/);
    assert.equal((await http(relay.http, 'GET', '/docs/handbook/a', { headers: auth })).status, 200);
    const other = await http(relay.http, 'GET', '/docs/private/a', { headers: auth });
    assert.equal(other.status, 403);
    assert.match(other.body, /User "ada" may not open the document "private\/a"/);
    assert.equal((await http(relay.http, 'GET', '/docs/notes/a')).status, 401);
    const upgrade = await refusedUpgrade(`${relay.url}/docs/private/a`, bearer(token));
    assert.equal(upgrade.status, 403);
    (await connect(`${relay.url}/docs/handbook/a`, bearer(token))).close();
    const expiring = await connect(
      `${relay.url}/docs/notes/a`,
      bearer(await hs256({ sub: 'ada', docs_write: ['notes/*'], exp: now() + 1 })),
    );
    assert.deepEqual(await closed(expiring, 10_000), { code: 4001, reason: 'Token expired' });
  } finally {
    await relay.stop();
  }
});
