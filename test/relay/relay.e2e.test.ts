// End to end against the real `wavecast serve` process: channels, HTTP publish, metrics, token, rate
// limit, size limits, TLS. Each test starts the relay it needs, with the flags it is about.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';
import { selfSigned } from '../helpers/certificates.js';
import { closed, connect, http, killAll, record, refusedUpgrade, sample, startRelay, type WsClient } from './relay-process.js';

after(killAll);

function closeAll(...clients: WsClient[]): void {
  for (const client of clients) client.terminate();
}

test("plain clients on two channels never see each other's messages; the sender gets its own; text stays text, binary binary", async () => {
  const relay = await startRelay();
  try {
    const a1 = await connect(`${relay.url}/alpha`);
    const a2 = await connect(`${relay.url}/alpha`);
    const b1 = await connect(`${relay.url}/beta`);
    const [ra1, ra2, rb1] = [record(a1), record(a2), record(b1)];

    a1.send('hello alpha');
    const echoed = await ra1.next();
    assert.deepEqual([echoed.text, echoed.isBinary], ['hello alpha', false]);
    b1.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    const own = await rb1.next();
    assert.equal(own.isBinary, true);
    assert.deepEqual([...own.data], [0xde, 0xad, 0xbe, 0xef]);
    a2.send(Buffer.from('binary on alpha'), { binary: true });

    // A last message on each channel: anything that leaked across would have been written before it.
    a1.send('end alpha');
    b1.send('end beta');
    await Promise.all([
      ra2.next((m) => m.text === 'end alpha'),
      ra1.next((m) => m.text === 'end alpha'),
      rb1.next((m) => m.text === 'end beta'),
    ]);
    const seen = (r: typeof ra1) => r.messages.map((m) => [m.text, m.isBinary]);
    assert.deepEqual(seen(ra2), [
      ['hello alpha', false],
      ['binary on alpha', true],
      ['end alpha', false],
    ]);
    assert.deepEqual(seen(ra1), seen(ra2));
    assert.deepEqual(seen(rb1), [
      [own.text, true],
      ['end beta', false],
    ]);
    closeAll(a1, a2, b1);
  } finally {
    await relay.stop();
  }
});

test('the root path is a channel too, and our own client works against the relay', async () => {
  const relay = await startRelay();
  try {
    const ours = new WebSocket(`${relay.url}/`);
    await once(ours, 'open');
    const theirs = await connect(relay.url);
    const got = record(theirs);
    const [message] = await Promise.all([once<[Buffer, boolean]>(ours, 'message'), Promise.resolve(ours.send('from wavecast client'))]);
    assert.equal(message[0].toString(), 'from wavecast client');
    assert.equal(message[1], false);
    assert.equal((await got.next()).text, 'from wavecast client');
    ours.terminate();
    theirs.terminate();
  } finally {
    await relay.stop();
  }
});

test("POST /channels/<name>/messages reaches the channel's WebSocket clients, text or binary by Content-Type", async () => {
  const relay = await startRelay(['--max-payload', '100']);
  try {
    const client = await connect(`${relay.url}/news`);
    const other = await connect(`${relay.url}/sports`);
    const got = record(client);
    const otherGot = record(other);

    const text = await http(relay.http, 'POST', '/channels/news/messages', { headers: { 'Content-Type': 'text/plain' }, body: 'breaking' });
    assert.equal(text.status, 200);
    assert.deepEqual(JSON.parse(text.body), { channel: 'news', seq: 1, delivered: 1 });
    assert.deepEqual(await got.next().then((m) => [m.text, m.isBinary]), ['breaking', false]);

    const json = await http(relay.http, 'POST', '/channels/news/messages', {
      headers: { 'Content-Type': 'application/json' },
      body: '{"score":1}',
    });
    assert.equal(json.status, 200);
    assert.deepEqual(await got.next().then((m) => [m.text, m.isBinary]), ['{"score":1}', false]);

    const binary = await http(relay.http, 'POST', '/channels/news/messages', {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from([1, 2, 3]),
    });
    assert.equal(binary.status, 200);
    const bytes = await got.next();
    assert.equal(bytes.isBinary, true);
    assert.deepEqual([...bytes.data], [1, 2, 3]);

    const tooBig = await http(relay.http, 'POST', '/channels/news/messages', {
      headers: { 'Content-Type': 'text/plain' },
      body: 'x'.repeat(101),
    });
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body, /larger than the relay's limit of 100 bytes/);
    const chunked = await http(relay.http, 'POST', '/channels/news/messages', {
      headers: { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' },
      body: 'y'.repeat(150),
    });
    assert.equal(chunked.status, 413);
    const badText = await http(relay.http, 'POST', '/channels/news/messages', {
      headers: { 'Content-Type': 'text/plain' },
      body: Buffer.from([0xff, 0xfe]),
    });
    assert.equal(badText.status, 400);
    assert.match(badText.body, /not valid UTF-8/);
    assert.equal((await http(relay.http, 'PUT', '/channels/news/messages')).status, 405);

    // A WebSocket message over the limit closes that connection with 1009; the channel goes on.
    const big = closed(client);
    client.send('z'.repeat(101));
    assert.equal((await big).code, 1009);
    await http(relay.http, 'POST', '/channels/sports/messages', { headers: { 'Content-Type': 'text/plain' }, body: 'still here' });
    assert.equal((await otherGot.next()).text, 'still here');
    assert.deepEqual(
      got.messages.map((m) => m.text).filter((t) => t === 'still here'),
      [],
    );
    closeAll(other);
  } finally {
    await relay.stop();
  }
});

test('GET /healthz, GET /channels/<name> presence, the chat page at /, and a hint for a channel opened as a page', async () => {
  const relay = await startRelay();
  try {
    const health = await http(relay.http, 'GET', '/healthz');
    assert.deepEqual([health.status, health.body], [200, 'ok\n']);
    const a = await connect(`${relay.url}/room%201`);
    const b = await connect(`${relay.url}/room%201`);
    const presence = await http(relay.http, 'GET', '/channels/room%201');
    assert.deepEqual(JSON.parse(presence.body), { channel: 'room 1', online: 2 });
    const page = await http(relay.http, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /<script defer src="chat.js"><\/script>/);
    assert.equal((await http(relay.http, 'GET', '/chat.js')).status, 200);
    const hint = await http(relay.http, 'GET', '/lobby');
    assert.equal(hint.status, 426);
    assert.match(hint.body, /\/lobby is a WebSocket channel/);
    closeAll(a, b);
  } finally {
    await relay.stop();
  }
});

test('/metrics counts connections, messages and bytes in and out, and subscribers of the busiest channels', async () => {
  const relay = await startRelay(['--metrics-channels', '2']);
  try {
    const a1 = await connect(`${relay.url}/m`);
    const a2 = await connect(`${relay.url}/m`);
    const b = await connect(`${relay.url}/n`);
    const c = await connect(`${relay.url}/o`);
    const c2 = await connect(`${relay.url}/o`);
    const c3 = await connect(`${relay.url}/o`);
    const [r1, r2] = [record(a1), record(a2)];
    a1.send('12345');
    await Promise.all([r1.next(), r2.next()]);
    await http(relay.http, 'POST', '/channels/m/messages', { headers: { 'Content-Type': 'text/plain' }, body: 'abc' });
    await Promise.all([r1.next((m) => m.text === 'abc'), r2.next((m) => m.text === 'abc')]);
    const metrics = (await http(relay.http, 'GET', '/metrics')).body;
    assert.equal(sample(metrics, 'wavecast_relay_connections'), 6);
    assert.equal(sample(metrics, 'wavecast_relay_connections_opened_total'), 6);
    assert.equal(sample(metrics, 'wavecast_relay_messages_received_total', '{source="websocket"}'), 1);
    assert.equal(sample(metrics, 'wavecast_relay_messages_received_total', '{source="http"}'), 1);
    assert.equal(sample(metrics, 'wavecast_relay_received_bytes_total', '{source="websocket"}'), 5);
    assert.equal(sample(metrics, 'wavecast_relay_received_bytes_total', '{source="http"}'), 3);
    assert.equal(sample(metrics, 'wavecast_relay_messages_sent_total'), 4);
    assert.equal(sample(metrics, 'wavecast_relay_sent_bytes_total'), 16);
    assert.equal(sample(metrics, 'wavecast_relay_dropped_messages_total'), 0);
    assert.equal(sample(metrics, 'wavecast_relay_slow_client_closes_total'), 0);
    assert.equal(sample(metrics, 'wavecast_relay_channels'), 3);
    assert.equal(sample(metrics, 'wavecast_relay_channel_subscribers', '{channel="o"}'), 3);
    assert.equal(sample(metrics, 'wavecast_relay_channel_subscribers', '{channel="m"}'), 2);
    assert.equal(
      sample(metrics, 'wavecast_relay_channel_subscribers', '{channel="n"}'),
      undefined,
      'only the 2 busiest channels are listed',
    );
    closeAll(a1, a2, b, c, c2, c3);
  } finally {
    await relay.stop();
  }
});

test('with --token, an upgrade without it is refused with 401; with it (header or ?token=) it is accepted; HTTP needs it too', async () => {
  const relay = await startRelay(['--token', 's3cret']);
  try {
    const refused = await refusedUpgrade(`${relay.url}/private`);
    assert.equal(refused.status, 401);
    assert.match(refused.body, /A token is required/);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="wavecast"');
    assert.equal((await refusedUpgrade(`${relay.url}/private?token=wrong`)).status, 401);

    const byHeader = await connect(`${relay.url}/private`, { headers: { Authorization: 'Bearer s3cret' } });
    const byQuery = await connect(`${relay.url}/private?token=s3cret`);
    const got = record(byQuery);
    byHeader.send('authorized');
    assert.equal((await got.next()).text, 'authorized');

    const post = (headers: Record<string, string>) =>
      http(relay.http, 'POST', '/channels/private/messages', { headers: { 'Content-Type': 'text/plain', ...headers }, body: 'from http' });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ Authorization: 'Bearer nope' })).status, 401);
    const ok = await post({ Authorization: 'Bearer s3cret' });
    assert.deepEqual([ok.status, JSON.parse(ok.body).delivered], [200, 2]);
    assert.equal((await got.next((m) => m.text === 'from http')).text, 'from http');
    assert.equal((await http(relay.http, 'GET', '/metrics')).status, 401);
    assert.equal((await http(relay.http, 'GET', '/metrics', { headers: { Authorization: 'Bearer s3cret' } })).status, 200);
    assert.equal((await http(relay.http, 'GET', '/healthz')).status, 200);
    closeAll(byHeader, byQuery);
    assert.match(relay.stderr(), /upgrade refused .*status=401/);
  } finally {
    await relay.stop();
  }
});

test("--origin: pages of other origins are refused with 403, listed ones and the relay's own page are let in", async () => {
  const relay = await startRelay(['--origin', 'https://chat.example.com']);
  try {
    const refused = await refusedUpgrade(`${relay.url}/x`, { origin: 'https://evil.example' });
    assert.equal(refused.status, 403);
    assert.match(refused.body, /Origin https:\/\/evil.example is not allowed/);
    const listed = await connect(`${relay.url}/x`, { origin: 'https://chat.example.com' });
    const own = await connect(`${relay.url}/x`, { origin: relay.http });
    const ownByName = await connect(`${relay.url}/x`, { origin: `http://localhost:${relay.port}` });
    const post = await http(relay.http, 'POST', '/channels/x/messages', {
      headers: { Origin: 'https://evil.example', 'Content-Type': 'text/plain' },
      body: 'csrf',
    });
    assert.equal(post.status, 403);
    // DNS rebinding: a page of rebind.evil.example, whose name now points at the relay, sends a Host
    // that matches its Origin. Before, that passed as the relay's own page.
    const rebound = `rebind.evil.example:${relay.port}`;
    const rebinding = await refusedUpgrade(`${relay.url}/x`, { origin: `http://${rebound}`, headers: { Host: rebound } });
    assert.equal(rebinding.status, 403);
    const reboundPost = await http(relay.http, 'POST', '/channels/x/messages', {
      headers: { Origin: `http://${rebound}`, Host: rebound, 'Content-Type': 'text/plain' },
      body: 'csrf',
    });
    assert.equal(reboundPost.status, 403);
    closeAll(listed, own, ownByName);
  } finally {
    await relay.stop();
  }
});

test("--public-url: behind a proxy, pages of the public origin are the relay's own", async () => {
  const relay = await startRelay(['--origin', 'https://chat.example.com', '--public-url', 'https://relay.example.org/']);
  try {
    const proxied = await connect(`${relay.url}/x`, { origin: 'https://relay.example.org', headers: { Host: 'relay.example.org' } });
    const other = await refusedUpgrade(`${relay.url}/x`, { origin: 'https://other.example.org', headers: { Host: 'other.example.org' } });
    assert.equal(other.status, 403);
    closeAll(proxied);
  } finally {
    await relay.stop();
  }
});

test('a client over the rate limit is closed with 1008 and a readable reason, and it is counted', async () => {
  const relay = await startRelay(['--rate-limit', '1', '--rate-burst', '3']);
  try {
    const abuser = await connect(`${relay.url}/flood`);
    const bystander = await connect(`${relay.url}/flood`);
    const got = record(bystander);
    const end = closed(abuser);
    for (let i = 0; i < 20; i++) abuser.send(`spam ${i}`);
    const { code, reason } = await end;
    assert.equal(code, 1008);
    assert.match(reason, /^Rate limit: over 1 messages a second \(burst 3\)$/);
    // The bystander stays connected and got at most the burst (plus what refilled meanwhile), in order.
    bystander.send('still open');
    await got.next((m) => m.text === 'still open');
    const spam = got.messages.filter((m) => m.text.startsWith('spam')).map((m) => m.text);
    assert.ok(spam.length >= 3 && spam.length < 20, `bystander got ${spam.length} spam messages`);
    assert.deepEqual(
      spam,
      spam.map((_, i) => `spam ${i}`),
    );
    const metrics = (await http(relay.http, 'GET', '/metrics')).body;
    assert.equal(sample(metrics, 'wavecast_relay_rate_limit_closes_total'), 1);
    assert.match(relay.stderr(), /warn {2}client closed for going over the rate limit channel=flood/);
    bystander.terminate();
  } finally {
    await relay.stop();
  }
});

test('bad channel names in an upgrade are refused with 400 and a reason', async () => {
  const relay = await startRelay();
  try {
    const refused = await refusedUpgrade(`${relay.url}/bad%ZZname`);
    assert.equal(refused.status, 400);
    assert.match(refused.body, /not valid percent-encoding/);
  } finally {
    await relay.stop();
  }
});

test('--tls-cert/--tls-key: the relay serves wss:// and https://', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-relay-tls-'));
  try {
    const { certFile, keyFile } = selfSigned(dir, 'relay');
    const relay = await startRelay(['--tls-cert', certFile, '--tls-key', keyFile]);
    try {
      assert.match(relay.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(certFile);
      const a = await connect(`${relay.url}/secure`, { ca });
      const b = await connect(`${relay.url}/secure`, { ca });
      const got = record(b);
      a.send('over TLS');
      assert.equal((await got.next()).text, 'over TLS');
      const health = await new Promise<number>((resolve, reject) => {
        httpsGet(`https://127.0.0.1:${relay.port}/healthz`, { ca, agent: false }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(health, 200);
      closeAll(a, b);
    } finally {
      await relay.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
