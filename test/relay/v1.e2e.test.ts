// wavecast.v1 against the real `wavecast serve` process, with `ws` clients offering the subprotocol:
// sequence numbers shared with plain clients and HTTP publishes, recovery with `since`, the too-old case,
// presence, typed errors, and GET /channels/<name>/messages.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, http, killAll, record, startRelay, v1, type Envelope } from './relay-process.js';

after(() => killAll());

test('the subprotocol is negotiated; plain clients, HTTP and v1 share one sequence per channel', { timeout: 30_000 }, async () => {
  const relay = await startRelay();
  try {
    const a = await v1(relay);
    assert.equal(a.client.protocol, 'wavecast.v1');
    a.send({ type: 'join', channel: 'room', name: 'Ada' });
    const joined = await a.next('joined');
    assert.deepEqual(
      { ...joined, epoch: typeof joined.epoch, you: typeof joined.you },
      { type: 'joined', channel: 'room', epoch: 'string', seq: 0, recovered: 0, presence: { count: 1, names: ['Ada'] }, you: 'string' },
    );

    const plain = await connect(`${relay.url}/room`);
    assert.equal(plain.protocol, '');
    const plainLog = record(plain);
    plain.send('from plain');
    const post = await http(relay.http, 'POST', '/channels/room/messages', {
      headers: { 'Content-Type': 'text/plain' },
      body: 'from http',
    });
    assert.equal(post.status, 200);
    assert.equal(JSON.parse(post.body).seq, 2);
    a.send({ type: 'publish', channel: 'room', data: 'from v1', id: 'r1' });
    assert.deepEqual(await a.next('ack'), { type: 'ack', id: 'r1', channel: 'room', seq: 3 });
    // The ack comes after the message itself.
    assert.deepEqual(a.messages('room'), [
      [1, 'from plain'],
      [2, 'from http'],
      [3, 'from v1'],
    ]);
    // The relay stamps a v1 connection's messages with the id its joined envelope gave it (and only those).
    assert.deepEqual(
      a.all.filter((e) => e.type === 'message').map((e) => e.from),
      [undefined, undefined, joined.you],
    );
    const kept = JSON.parse((await http(relay.http, 'GET', '/channels/room/messages?since=2')).body);
    assert.equal(kept.messages[0].from, joined.you);
    const m = a.all.find((e) => e.type === 'message')!;
    assert.equal(typeof m.time, 'number');
    assert.equal((await plainLog.next((r) => r.text === 'from v1')).isBinary, false, 'plain clients get a v1 message as its text');

    await http(relay.http, 'POST', '/channels/room/messages', {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from([0, 255]),
    });
    assert.deepEqual(await a.next('message', (e) => e.seq === 4), {
      type: 'message',
      channel: 'room',
      seq: 4,
      time: (a.all.at(-1) as Envelope).time,
      data: 'AP8=',
      binary: true,
    });
    plain.close();
    a.client.close();
  } finally {
    await relay.stop();
  }
});

test('rejoining with since gets exactly what was missed, in order, before live messages', { timeout: 30_000 }, async () => {
  const relay = await startRelay();
  try {
    const writer = await v1(relay);
    writer.send({ type: 'join', channel: 'feed' });
    await writer.next('joined');
    for (let i = 1; i <= 5; i++) writer.send({ type: 'publish', channel: 'feed', data: `m${i}` });
    await writer.next('message', (e) => e.seq === 5);

    const reader = await v1(relay);
    reader.send({ type: 'join', channel: 'feed', since: 2 });
    // A live message right after the join: it must come after the replay, once.
    writer.send({ type: 'publish', channel: 'feed', data: 'm6' });
    const joined = await reader.next('joined');
    assert.equal(joined.recovered, 3);
    await reader.next('message', (e) => e.seq === 6);
    writer.send({ type: 'publish', channel: 'feed', data: 'm7', id: 1 });
    await reader.next('message', (e) => e.seq === 7);
    assert.deepEqual(reader.messages('feed'), [
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
      [6, 'm6'],
      [7, 'm7'],
    ]);
    assert.ok(!reader.all.some((e) => e.type === 'gap'));

    const history = await http(relay.http, 'GET', '/channels/feed/messages?since=5');
    assert.equal(history.status, 200);
    const body = JSON.parse(history.body);
    assert.equal(body.latest, 7);
    assert.deepEqual(
      body.messages.map((m: { seq: number; data: string }) => [m.seq, m.data]),
      [
        [6, 'm6'],
        [7, 'm7'],
      ],
    );
    assert.equal(body.lost, undefined);
    assert.equal((await http(relay.http, 'GET', '/channels/feed/messages?since=x')).status, 400);
    writer.client.close();
    reader.client.close();
  } finally {
    await relay.stop();
  }
});

test('too old: a typed gap names the lost range, then what is kept follows', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--history', '3']);
  try {
    for (let i = 1; i <= 6; i++)
      await http(relay.http, 'POST', '/channels/news/messages', { headers: { 'Content-Type': 'text/plain' }, body: `n${i}` });
    const reader = await v1(relay);
    reader.send({ type: 'join', channel: 'news', since: 1 });
    const gap = await reader.next('gap');
    assert.deepEqual([gap.from, gap.to, gap.reason], [2, 3, 'expired']);
    await reader.next('joined');
    assert.deepEqual(reader.messages('news'), [
      [4, 'n4'],
      [5, 'n5'],
      [6, 'n6'],
    ]);
    const types = reader.all.map((e) => e.type);
    assert.deepEqual(types, ['gap', 'message', 'message', 'message', 'joined']);

    const body = JSON.parse((await http(relay.http, 'GET', '/channels/news/messages?since=0')).body);
    assert.deepEqual(body.lost, { from: 1, to: 3 });
    assert.deepEqual(
      body.messages.map((m: { seq: number }) => m.seq),
      [4, 5, 6],
    );

    // A since from another epoch (the relay restarted): a reset gap, then everything kept.
    const other = await v1(relay);
    other.send({ type: 'join', channel: 'news', since: 2, epoch: 'elsewhere' });
    const reset = await other.next('gap', (e) => e.reason === 'reset');
    assert.equal(reset.from, 3);
    await other.next('joined');
    assert.deepEqual(
      other.messages('news').map(([seq]) => seq),
      [4, 5, 6],
    );
    reader.client.close();
    other.client.close();
  } finally {
    await relay.stop();
  }
});

test('presence: names at join, join and leave events with counts, several channels per connection', { timeout: 30_000 }, async () => {
  const relay = await startRelay();
  try {
    const ada = await v1(relay);
    ada.send({ type: 'join', channel: 'p', name: 'Ada' });
    ada.send({ type: 'join', channel: 'q', name: 'Ada' });
    await ada.next('joined', (e) => e.channel === 'q');
    const grace = await v1(relay);
    grace.send({ type: 'join', channel: 'p', name: 'Grace' });
    const joined = await grace.next('joined');
    assert.deepEqual(joined.presence, { count: 2, names: ['Ada', 'Grace'] });
    assert.deepEqual(await ada.next('presence'), { type: 'presence', channel: 'p', event: 'join', name: 'Grace', count: 2 });
    const online = JSON.parse((await http(relay.http, 'GET', '/channels/p')).body);
    assert.equal(online.online, 2);
    grace.send({ type: 'leave', channel: 'p' });
    await grace.next('left');
    assert.deepEqual(await ada.next('presence'), { type: 'presence', channel: 'p', event: 'leave', name: 'Grace', count: 1 });
    grace.send({ type: 'join', channel: 'p', name: 'Grace' });
    await ada.next('presence', (e) => e.event === 'join');
    grace.client.close();
    assert.deepEqual(await ada.next('presence'), { type: 'presence', channel: 'p', event: 'leave', name: 'Grace', count: 1 });
    ada.client.close();
  } finally {
    await relay.stop();
  }
});

test('errors come as typed envelopes and the connection stays usable', { timeout: 30_000 }, async () => {
  const relay = await startRelay(['--max-payload', '1024']);
  try {
    const c = await v1(relay);
    c.client.send('not json');
    assert.equal((await c.next('error')).code, 'bad_json');
    c.send({ type: 'shout' });
    assert.equal((await c.next('error')).code, 'unknown_type');
    c.send({ type: 'publish', channel: 'z', data: 'x', id: 9 });
    assert.deepEqual(await c.next('error'), {
      type: 'error',
      code: 'not_joined',
      message: 'Join "z" before publishing to it',
      id: 9,
      channel: 'z',
    });
    c.send({ type: 'join', channel: 'z' });
    await c.next('joined');
    c.send({ type: 'join', channel: 'z' });
    assert.equal((await c.next('error')).code, 'already_joined');
    c.send({ type: 'publish', channel: 'z', data: 'x'.repeat(900) });
    assert.equal((await c.next('error')).code, 'too_big');
    c.client.send(Buffer.from('{}'));
    assert.equal((await c.next('error')).code, 'binary_frame');
    // A lone surrogate in JSON is not a channel name (in a broker it would become U+FFFD, another channel).
    c.client.send('{"type":"join","channel":"room\\ud800"}');
    const lone = await c.next('error');
    assert.equal(lone.code, 'bad_channel');
    assert.match(String(lone.message), /valid Unicode/);
    c.send({ type: 'ping', id: 'p' });
    const pong = await c.next('pong');
    assert.equal(pong.id, 'p');
    c.client.close();
  } finally {
    await relay.stop();
  }
});
