// The server API (--api-key) against real `wavecast serve` processes: its key and no other opens it
// (nor /metrics then); publish to one channel and many, history, presence with user ids, disconnect a
// user and remove a user from a channel, channels with counts, node info; and across two nodes through
// Redis and through NATS, a user disconnected and removed on the other node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { uniquePrefix } from '../cluster/setup.js';
import { BROKERS, until, wipe } from './cluster-setup.js';
import { closed, connect, http, killAll, record, startRelay, v1, type RelayProcess } from './relay-process.js';

after(killAll);

const SECRET = 'a-test-secret-of-32-characters!!';
const API_KEY = 'backend-key-of-32-characters!!!!';
const ALL = { subscribe: ['*'], publish: ['*'] };

function token(sub: string, name: string): Promise<string> {
  return new jose.SignJWT({ sub, name, ...ALL }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
}

const bearer = (value: string) => ({ headers: { Authorization: `Bearer ${value}` } });

async function api(node: RelayProcess, method: string, body: object = {}, key = API_KEY): Promise<{ status: number; body: any }> {
  const response = await http(node.http, 'POST', `/api/${method}`, {
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let parsed: unknown = response.body;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    // a text refusal
  }
  return { status: response.status, body: parsed };
}

test('only the api key opens the API and /metrics; a client token does not', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--api-key', API_KEY, '--token', 'client-shared-token']);
  try {
    const user = await token('ada', 'Ada');
    for (const key of [user, 'client-shared-token', 'wrong']) {
      assert.equal((await api(relay, 'info', {}, key)).status, 401, key);
      assert.equal((await http(relay.http, 'GET', '/metrics', bearer(key))).status, 401, key);
    }
    assert.equal((await http(relay.http, 'GET', '/metrics', bearer(API_KEY))).status, 200);
    const info = await api(relay, 'info');
    assert.equal(info.status, 200);
    assert.equal(info.body.users, 'jwt');
    assert.equal((await api(relay, 'nope')).status, 404);
    assert.equal((await http(relay.http, 'GET', '/api/info', bearer(API_KEY))).status, 405);
    // Without --api-key the API is off.
    const open = await startRelay();
    try {
      const off = await http(open.http, 'POST', '/api/info');
      assert.equal(off.status, 404);
      assert.match(off.body, /--api-key/);
    } finally {
      await open.stop();
    }
  } finally {
    await relay.stop();
  }
});

test('one node: publish to many channels, history, presence with user ids, channels, disconnect and remove', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET, '--api-key', API_KEY]);
  try {
    const ada = await v1(relay, bearer(await token('ada', 'Ada')));
    ada.send({ type: 'join', channel: 'a' });
    await ada.next('joined');
    ada.send({ type: 'join', channel: 'b' });
    await ada.next('joined');
    const adaPlain = await connect(`${relay.url}/b`, bearer(await token('ada', 'Ada')));
    const bob = await v1(relay, bearer(await token('bob', 'Bob')));
    bob.send({ type: 'join', channel: 'a' });
    await bob.next('joined');

    const published = await api(relay, 'publish', { channels: ['a', 'b'], data: 'from the backend' });
    assert.equal(published.status, 200);
    assert.deepEqual(
      published.body.results.map((r: { channel: string; seq: number }) => [r.channel, r.seq]),
      [
        ['a', 1],
        ['b', 1],
      ],
    );
    const message = await bob.next('message');
    assert.equal(message.data, 'from the backend');
    assert.equal(message.from, undefined, 'a backend message has no user');
    assert.equal((await api(relay, 'publish', { channel: 'a', data: 'AP8=', binary: true })).body.results[0].seq, 2);
    const history = await api(relay, 'history', { channel: 'a', since: 1 });
    assert.deepEqual(
      history.body.messages.map((m: { seq: number; data: string; binary?: boolean }) => [m.seq, m.data, m.binary]),
      [[2, 'AP8=', true]],
    );

    const presence = await api(relay, 'presence', { channel: 'a' });
    assert.deepEqual(presence.body, {
      channel: 'a',
      online: 2,
      names: ['Ada', 'Bob'],
      users: [
        { user: 'ada', name: 'Ada' },
        { user: 'bob', name: 'Bob' },
      ],
    });
    assert.deepEqual((await api(relay, 'channels')).body, {
      channels: [
        { channel: 'a', online: 2 },
        { channel: 'b', online: 2 },
      ],
    });

    // Remove ada from a: her v1 connection leaves it (told why), her other channels stay.
    assert.deepEqual((await api(relay, 'remove', { user: 'ada', channel: 'a' })).body, { user: 'ada', channel: 'a', removed: 1 });
    assert.deepEqual(await ada.next('left'), { type: 'left', channel: 'a', reason: 'removed' });
    assert.deepEqual((await bob.next('presence', (e) => e.event === 'leave')).name, 'Ada');
    // Disconnect ada: both her connections close with 4003; bob stays.
    const adaClosed = closed(ada.client);
    const adaPlainClosed = closed(adaPlain);
    assert.deepEqual((await api(relay, 'disconnect', { user: 'ada' })).body, { user: 'ada', disconnected: 2 });
    assert.equal((await adaClosed).code, 4003);
    assert.deepEqual(await adaPlainClosed, { code: 4003, reason: 'Disconnected by the server' });
    bob.send({ type: 'ping', id: 1 });
    await bob.next('pong');

    assert.equal((await api(relay, 'publish', { data: 'x' })).status, 400);
    assert.equal((await api(relay, 'remove', { user: 'ada' })).status, 400);
    bob.client.close();
  } finally {
    await relay.stop();
  }
});

for (const kind of BROKERS) {
  test(`${kind.name} cluster: a user disconnected and removed through one node's API, on the other node; presence with user ids of both`, {
    timeout: 60_000,
  }, async () => {
    const prefix = uniquePrefix('api');
    const args = [
      kind.flag,
      kind.shared,
      '--cluster-prefix',
      prefix,
      '--presence-heartbeat',
      '0.3',
      '--jwt-secret',
      SECRET,
      '--api-key',
      API_KEY,
    ];
    const [one, two] = await Promise.all([startRelay(args), startRelay(args)]);
    try {
      const ada = await v1(two!, bearer(await token('ada', 'Ada')));
      ada.send({ type: 'join', channel: 'room' });
      await ada.next('joined');
      const adaPlain = await connect(`${two!.url}/other`, bearer(await token('ada', 'Ada')));
      const adaLog = record(adaPlain);
      const bob = await v1(one!, bearer(await token('bob', 'Bob')));
      bob.send({ type: 'join', channel: 'room' });
      await bob.next('joined');
      // A join on the other node reaches ada with bob's user id.
      assert.deepEqual(await ada.next('presence'), {
        type: 'presence',
        channel: 'room',
        event: 'join',
        name: 'Bob',
        user: 'bob',
        count: 2,
      });

      await until('node one sees ada on room', async () => (await api(one!, 'presence', { channel: 'room' })).body.users.length === 2);
      assert.deepEqual((await api(one!, 'presence', { channel: 'room' })).body.users, [
        { user: 'ada', name: 'Ada' },
        { user: 'bob', name: 'Bob' },
      ]);
      await until('node one lists both channels', async () => (await api(one!, 'channels')).body.channels.length === 2);

      // Published on node one, delivered on node two.
      await api(one!, 'publish', { channels: ['room', 'other'], data: 'hello' });
      assert.equal((await ada.next('message')).data, 'hello');
      assert.equal((await adaLog.next()).text, 'hello');

      assert.deepEqual((await api(one!, 'remove', { user: 'ada', channel: 'room' })).body.removed, 0, 'none on node one');
      assert.deepEqual(await ada.next('left'), { type: 'left', channel: 'room', reason: 'removed' });
      assert.deepEqual(await bob.next('presence', (e) => e.event === 'leave'), {
        type: 'presence',
        channel: 'room',
        event: 'leave',
        name: 'Ada',
        user: 'ada',
        count: 1,
      });
      const adaClosed = closed(ada.client);
      const adaPlainClosed = closed(adaPlain);
      await api(one!, 'disconnect', { user: 'ada' });
      assert.equal((await adaClosed).code, 4003);
      assert.equal((await adaPlainClosed).code, 4003);
      bob.client.close();
    } finally {
      await Promise.all([one!.stop(), two!.stop()]);
      await wipe(kind, prefix);
    }
  });
}
