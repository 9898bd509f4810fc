// Channel namespaces (--config) against the real `wavecast serve` process: backend-only publishing,
// subscribe for any user or by a token claim, presence and join/leave envelopes off, anonymous access
// off; the defaults keep the open relay; a bad config stops the start with what is wrong.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import * as jose from 'jose';
import { Namespaces } from '../../src/relay/namespaces.js';
import { ANONYMOUS } from '../../src/relay/identity.js';
import { closed, configFile, connect, http, killAll, refusedUpgrade, runServeCommand, startRelay, v1 } from './relay-process.js';

after(killAll);

const SECRET = 'a-test-secret-of-32-characters!!';
const API_KEY = 'backend-key-of-32-characters!!!!';

const CONFIG = {
  namespaces: {
    'news:': { publish: 'backend' },
    'team:': { subscribe: { claim: 'teams' }, joinLeave: false },
    'staff:': { subscribe: 'users', anonymous: false },
    'quiet:': { presence: false },
  },
};

function token(claims: object): Promise<string> {
  return new jose.SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
}
const bearer = (value: string) => ({ headers: { Authorization: `Bearer ${value}` } });

test('with users: backend-only publishing, subscribe by claim or for any user, join/leave envelopes off', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--api-key', API_KEY, '--config', configFile(CONFIG)]);
  try {
    // Ada's token lists no channels of her own: the namespaces grant them.
    const ada = await v1(relay, bearer(await token({ sub: 'ada', teams: ['42'], publish: ['*'], subscribe: ['news:*'] })));
    ada.send({ type: 'join', channel: 'news:today' });
    await ada.next('joined');
    ada.send({ type: 'publish', channel: 'news:today', data: 'x', id: 1 });
    assert.deepEqual(await ada.next('error'), {
      type: 'error',
      code: 'forbidden',
      message: 'Only the backend publishes on "news:today"',
      id: 1,
      channel: 'news:today',
    });
    const posted = await http(relay.http, 'POST', '/api/publish', {
      headers: { Authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ channel: 'news:today', data: 'headline' }),
    });
    assert.equal(posted.status, 200);
    assert.equal((await ada.next('message')).data, 'headline');

    ada.send({ type: 'join', channel: 'team:42' });
    await ada.next('joined', (e) => e.channel === 'team:42');
    ada.send({ type: 'join', channel: 'team:7' });
    assert.equal((await ada.next('error', (e) => e.channel === 'team:7')).code, 'forbidden');
    const other = await refusedUpgrade(`${relay.url}/team:7`, bearer(await token({ sub: 'bob', teams: ['42'] })));
    assert.equal(other.status, 403);
    (await connect(`${relay.url}/staff:room`, bearer(await token({ sub: 'bob' })))).close();

    // team: has join/leave envelopes off: ada is not told of bob, though the count and names in joined are kept.
    const bob = await v1(relay, bearer(await token({ sub: 'bob', name: 'Bob', teams: ['42'] })));
    bob.send({ type: 'join', channel: 'team:42' });
    assert.deepEqual((await bob.next('joined')).presence, { count: 2, names: ['Bob', 'ada'] });
    ada.send({ type: 'ping', id: 'after' });
    await ada.next('pong');
    assert.equal(ada.all.filter((e) => e.type === 'presence').length, 0);
    ada.client.close();
    bob.client.close();
  } finally {
    await relay.stop();
  }
});

test('without users: the defaults stay open; anonymous access off and presence off apply', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--config', configFile(CONFIG)]);
  try {
    const staff = await refusedUpgrade(`${relay.url}/staff:room`);
    assert.deepEqual([staff.status, staff.body], [403, '"staff:room" is for signed-in users only']);
    const plain = await connect(`${relay.url}/news:today`);
    plain.send('x');
    assert.deepEqual(await closed(plain), { code: 1008, reason: 'You may not publish on this channel' });
    const a = await v1(relay);
    a.send({ type: 'join', channel: 'quiet:1', name: 'A' });
    assert.deepEqual((await a.next('joined')).presence, { count: 1, names: [] });
    a.send({ type: 'join', channel: 'lobby', name: 'A' });
    assert.deepEqual((await a.next('joined', (e) => e.channel === 'lobby')).presence, { count: 1, names: ['A'] });
    a.client.close();
  } finally {
    await relay.stop();
  }
});

test('a config is checked: the longest prefix wins; unknown rules and bad values are refused at start', { timeout: 30_000 }, async () => {
  const namespaces = Namespaces.parse({ namespaces: { 'a:': { publish: 'backend' }, 'a:b:': {} } });
  assert.equal(namespaces.of('a:b:c').publish, 'clients');
  assert.equal(namespaces.of('a:c').publish, 'backend');
  assert.equal(namespaces.publishRefusal(ANONYMOUS, 'a:b:c'), null);
  assert.throws(() => Namespaces.parse({ namespaces: { 'a:': { publsh: 'backend' } } }), /unknown rule "publsh"/);
  assert.throws(
    () => Namespaces.parse({ namespaces: { 'a:': { subscribe: 'everyone' } } }),
    /"subscribe" is "anyone", "users" or \{"claim": "NAME"\}/,
  );
  const bad = await runServeCommand(['--port', '0', '--config', configFile({ namespaces: { 'x:': { presence: 'no' } } })]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"x:": "presence" is true or false/);
  const missing = await runServeCommand(['--port', '0', '--config', join(dirname(configFile({})), 'none.json')]);
  assert.match(missing.stderr, /--config .*none\.json: ENOENT/);
});
