// `wavecast serve --redis` / `--nats`: several real relay processes serving as one, for each broker.
// Delivery across nodes (exactly once, in order, one sequence everywhere), a v1 client moving to another
// node, cluster-wide presence and a node killed without a goodbye, a broker restart (publishes refused
// meanwhile, the gap recovered from the shared history), and --workers. Each test has a cluster prefix of
// its own on the shared brokers (deleted afterwards), or a private broker on a free port.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PortHold, uniquePrefix, type PrivateBroker } from '../cluster/setup.js';
import { BROKERS, until, wipe, type BrokerKind } from './cluster-setup.js';
import {
  closed,
  connect,
  http,
  killAll,
  record,
  runServeCommand,
  startRelay,
  v1,
  type Envelope,
  type RelayProcess,
  type V1Client,
} from './relay-process.js';

after(killAll);

const HEARTBEAT = 0.3; // seconds: a killed node's members go within 3 of them
const text = { 'Content-Type': 'text/plain' };

function startNodes(kind: BrokerKind, url: string, prefix: string, count: number, extra: string[] = []): Promise<RelayProcess[]> {
  const args = [kind.flag, url, '--cluster-prefix', prefix, '--rate-limit', '0', '--presence-heartbeat', String(HEARTBEAT), ...extra];
  return Promise.all(Array.from({ length: count }, () => startRelay(args)));
}

async function post(node: RelayProcess, channel: string, body: string): Promise<{ status: number; seq?: number }> {
  const response = await http(node.http, 'POST', `/channels/${channel}/messages`, { headers: text, body });
  return response.status === 200 ? { status: 200, seq: JSON.parse(response.body).seq as number } : { status: response.status };
}

async function joined(
  node: RelayProcess,
  channel: string,
  join: Record<string, unknown> = {},
): Promise<{ client: V1Client; joined: Envelope }> {
  const client = await v1(node);
  client.send({ type: 'join', channel, ...join });
  return { client, joined: await client.next('joined', (e) => e.channel === channel) };
}

/** Two relays on a private broker that keeps its data across restarts; stopped and disposed afterwards. */
async function withPrivateBroker(
  kind: BrokerKind,
  body: (broker: PrivateBroker, nodes: [RelayProcess, RelayProcess]) => Promise<void>,
): Promise<void> {
  const broker = await kind.persistent();
  const nodes = await startNodes(kind, broker.url, uniquePrefix('private'), 2);
  try {
    await body(broker, nodes as [RelayProcess, RelayProcess]);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    await broker.dispose();
  }
}

async function health(node: RelayProcess): Promise<string> {
  return (await http(node.http, 'GET', '/healthz')).body;
}

for (const kind of BROKERS) {
  test(`${kind.name} cluster of three relays`, { timeout: 60_000 }, async (t) => {
    const prefix = uniquePrefix('relay');
    const nodes = await startNodes(kind, kind.shared, prefix, 3);
    const [A, B, C] = nodes as [RelayProcess, RelayProcess, RelayProcess];
    try {
      await t.test('a publish on any node reaches every client of every node once, in order, with the same seq', async () => {
        const plains = await Promise.all(nodes.map((node) => connect(`${node.url}/room`)));
        const plainLogs = plains.map(record);
        const joins = await Promise.all(nodes.map((node) => joined(node, 'room')));
        const v1s = joins.map((j) => j.client);
        // From all three nodes at once, by all three ways: HTTP on A, a plain client on B, a v1 client on C.
        const COUNT = 10;
        const posting = (async () => {
          // One request after the other (requests on separate connections may arrive in any order).
          for (let i = 0; i < COUNT; i++) assert.equal((await post(A, 'room', `http-${i}`)).status, 200);
        })();
        for (let i = 0; i < COUNT; i++) {
          plains[1]!.send(`plain-${i}`);
          v1s[2]!.send({ type: 'publish', channel: 'room', data: `v1-${i}` });
        }
        await posting;
        const total = 3 * COUNT;
        await Promise.all(v1s.map((client) => until(`a v1 client has ${total} messages`, () => client.messages('room').length >= total)));
        await Promise.all(plainLogs.map((log) => until(`a plain client has ${total} messages`, () => log.messages.length >= total)));
        const reference = v1s[0]!.messages('room');
        assert.deepEqual(
          reference.map(([seq]) => seq),
          Array.from({ length: total }, (_, i) => i + 1),
          'numbered 1..30, none missing, none twice',
        );
        for (const client of v1s)
          assert.deepEqual(client.messages('room'), reference, 'the same messages with the same numbers on every node');
        // The publishing connection's id crosses nodes with its messages (and is kept in the broker).
        for (const client of v1s) {
          const from = client.all.filter((e) => e.type === 'message').map((e) => [String(e.data).split('-')[0], e.from]);
          for (const [source, id] of from) assert.equal(id, source === 'v1' ? joins[2]!.joined.you : undefined);
        }
        for (const log of plainLogs)
          assert.deepEqual(
            log.messages.map((m) => m.text),
            reference.map(([, data]) => data),
            'plain clients: the same order',
          );
        // Each publisher's messages in the order it sent them.
        for (const source of ['http', 'plain', 'v1']) {
          const own = reference.map(([, data]) => data as string).filter((data) => data.startsWith(`${source}-`));
          assert.deepEqual(
            own,
            Array.from({ length: COUNT }, (_, i) => `${source}-${i}`),
          );
        }
        // Any node reads the shared history.
        const history = JSON.parse((await http(B.http, 'GET', '/channels/room/messages?since=25')).body);
        assert.deepEqual(
          history.messages.map((m: { seq: number; data: string }) => [m.seq, m.data]),
          reference.slice(25),
        );
        for (const m of history.messages as Array<{ data: string; from?: string }>)
          assert.equal(m.from, m.data.startsWith('v1-') ? joins[2]!.joined.you : undefined);
        assert.equal(history.epoch, v1s[0]!.all.find((e) => e.type === 'joined')!.epoch);
        for (const client of [...plains, ...v1s.map((c) => c.client)]) client.terminate();
      });

      await t.test('a v1 client that moves from node A to node B recovers exactly what it missed', async () => {
        const first = await joined(A, 'move', { name: 'Mover' });
        await post(C, 'move', 'one');
        await post(C, 'move', 'two');
        await until('the mover has two messages', () => first.client.messages('move').length === 2);
        const epoch = first.joined.epoch;
        first.client.client.close();
        await closed(first.client.client);
        for (const body of ['three', 'four', 'five']) assert.equal((await post(A, 'move', body)).status, 200);
        const second = await joined(B, 'move', { name: 'Mover', since: 2, epoch });
        assert.deepEqual(second.client.messages('move'), [
          [3, 'three'],
          [4, 'four'],
          [5, 'five'],
        ]);
        assert.equal(second.joined.recovered, 3);
        assert.equal(second.joined.seq, 5);
        assert.equal(second.joined.epoch, epoch, 'the same epoch on every node');
        assert.equal(second.client.all.filter((e) => e.type === 'gap').length, 0);
        await post(C, 'move', 'six');
        await second.client.next('message', (e) => e.seq === 6);
        assert.deepEqual(second.client.messages('move'), [
          [3, 'three'],
          [4, 'four'],
          [5, 'five'],
          [6, 'six'],
        ]);
        second.client.client.terminate();
      });

      await t.test("presence counts every node, and a killed node's members are gone within three heartbeats", async () => {
        const ada = await joined(A, 'lobby', { name: 'Ada' });
        const bob = await joined(B, 'lobby', { name: 'Bob' });
        await ada.client.next('presence', (e) => e.event === 'join' && e.name === 'Bob');
        const plain = await connect(`${B.url}/lobby`);
        const cy = await joined(C, 'lobby', { name: 'Cy' });
        assert.deepEqual(cy.joined.presence, { count: 3, names: ['Ada', 'Bob', 'Cy'] });
        assert.deepEqual(await ada.client.next('presence', (e) => e.name === 'Cy'), {
          type: 'presence',
          channel: 'lobby',
          event: 'join',
          name: 'Cy',
          count: 3,
        });
        await until(
          'A counts four online on the lobby (three v1, one plain)',
          async () => JSON.parse((await http(A.http, 'GET', '/channels/lobby')).body).online === 4,
        );

        const killedAt = Date.now();
        await C.stop('SIGKILL');
        const left = await ada.client.next('presence', (e) => e.event === 'leave', 5_000);
        const took = Date.now() - killedAt;
        assert.deepEqual(left, { type: 'presence', channel: 'lobby', event: 'leave', name: 'Cy', count: 2 });
        assert.ok(took <= 3 * HEARTBEAT * 1000 + 1500, `gone after ${took} ms`);
        await bob.client.next('presence', (e) => e.event === 'leave' && e.name === 'Cy');
        assert.equal(JSON.parse((await http(B.http, 'GET', '/channels/lobby')).body).online, 3);
        plain.terminate();
        ada.client.client.terminate();
        bob.client.client.terminate();
      });
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
      await wipe(kind, prefix);
    }
  });

  test(`${kind.name} restarts mid-run: publishes are refused meanwhile, delivery resumes, v1 clients recover the gap exactly`, {
    timeout: 60_000,
  }, async () => {
    await withPrivateBroker(kind, async (broker, nodes) => {
      const [A, B] = nodes;
      const onA = await joined(A, 'r');
      const onB = await joined(B, 'r');
      const plainB = record(await connect(`${B.url}/r`));
      for (const body of ['m1', 'm2', 'm3']) await post(A, 'r', body);
      await until('B has m1..m3', () => onB.client.messages('r').length === 3 && plainB.messages.length === 3);
      await until('A has m1..m3', () => onA.client.messages('r').length === 3);
      const epoch = onA.joined.epoch;
      onA.client.client.terminate();

      await broker.kill();
      await until('both nodes see the broker gone', async () =>
        (await Promise.all(nodes.map(health))).every((body) => body.startsWith('degraded')),
      );
      const refused = await post(B, 'r', 'lost');
      assert.equal(refused.status, 503, 'not stored, so not published: the publisher is told');
      onB.client.send({ type: 'publish', channel: 'r', data: 'lost too', id: 'x' });
      assert.deepEqual(await onB.client.next('error'), {
        type: 'error',
        code: 'unavailable',
        id: 'x',
        channel: 'r',
        message:
          'The relay could not store the message in the channel history (its broker is unreachable); it was not published: send it again later',
      });
      const plainDuring = await connect(`${A.url}/r`);
      plainDuring.send('lost as well');
      assert.equal(
        (await closed(plainDuring)).code,
        1013,
        'a plain client whose message could not be stored is told the only way it can be',
      );
      const joiner = await v1(A);
      joiner.send({ type: 'join', channel: 'r' });
      assert.equal((await joiner.next('error')).code, 'unavailable', 'a join cannot read the history meanwhile');
      joiner.client.terminate();
      assert.match(
        (await http(A.http, 'GET', '/metrics')).body,
        new RegExp(`wavecast_relay_broker_up\\{broker="${kind.name.toLowerCase()}"\\} 0`),
      );

      await broker.start();
      await until(
        'both nodes are linked again',
        async () => (await Promise.all(nodes.map(health))).every((body) => body.startsWith('ok')),
        20_000,
      );
      assert.equal((await post(B, 'r', 'm4')).seq, 4);
      assert.equal((await post(B, 'r', 'm5')).seq, 5);
      assert.equal((await post(A, 'r', 'm6')).seq, 6, 'A publishes to B again');
      await until('B has m4..m6', () => onB.client.messages('r').length === 6 && plainB.messages.length === 6);
      assert.deepEqual(
        onB.client.messages('r'),
        ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'].map((data, i) => [i + 1, data]),
      );
      assert.deepEqual(
        plainB.messages.map((m) => m.text),
        ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'],
      );

      const back = await joined(A, 'r', { since: 3, epoch });
      assert.deepEqual(back.client.messages('r'), [
        [4, 'm4'],
        [5, 'm5'],
        [6, 'm6'],
      ]);
      assert.equal(back.joined.epoch, epoch, 'the history survived the restart: same epoch, no reset');
      assert.equal(back.client.all.filter((e) => e.type === 'gap').length, 0);
      back.client.client.terminate();
      onB.client.client.terminate();
    });
  });

  test(`${kind.name} lost its data: clients are told with a reset gap, and numbers start again under a new epoch`, {
    timeout: 60_000,
  }, async () => {
    await withPrivateBroker(kind, async (broker, nodes) => {
      const [A, B] = nodes;
      const live = await joined(A, 'r');
      for (const body of ['m1', 'm2']) await post(B, 'r', body);
      await until('A has m1, m2', () => live.client.messages('r').length === 2);
      const oldEpoch = live.joined.epoch as string;
      await broker.restartEmpty();
      await until(
        'both nodes are linked again',
        async () => (await Promise.all(nodes.map(health))).every((body) => body.startsWith('ok')),
        20_000,
      );
      assert.equal((await post(B, 'r', 'new')).seq, 1, 'numbers start again');
      const gap = await live.client.next('gap');
      assert.equal(gap.reason, 'reset');
      assert.notEqual(gap.epoch, oldEpoch);
      await live.client.next('message', (e) => e.data === 'new');
      assert.deepEqual(live.client.messages('r'), [
        [1, 'm1'],
        [2, 'm2'],
        [1, 'new'],
      ]);

      const back = await joined(A, 'r', { since: 2, epoch: oldEpoch });
      assert.equal(back.joined.epoch, gap.epoch);
      assert.deepEqual(
        back.client.all.filter((e) => e.type === 'gap').map((e) => e.reason),
        ['reset'],
      );
      assert.deepEqual(back.client.messages('r'), [[1, 'new']], 'everything the history has now follows the reset');
      live.client.client.terminate();
      back.client.client.terminate();
    });
  });

  test(`${kind.name}: --workers 2 share one port, publishes cross workers, SIGTERM stops them gracefully`, {
    timeout: 60_000,
  }, async () => {
    const prefix = uniquePrefix('workers');
    const relay = await startRelay([
      kind.flag,
      kind.shared,
      '--cluster-prefix',
      prefix,
      '--workers',
      '2',
      '--rate-limit',
      '0',
      '--log-level',
      'debug',
    ]);
    try {
      const clients = [];
      for (let i = 0; i < 4; i++) clients.push(await connect(`${relay.url}/w`));
      const logs = clients.map(record);
      await until('four clients joined', () => (relay.stderr().match(/client joined/g) ?? []).length === 4);
      const workers = new Set([...relay.stderr().matchAll(/client joined.* worker=(\d+)/g)].map((m) => m[1]));
      assert.equal(workers.size, 2, `clients on both workers: ${relay.stderr()}`);
      // Once every worker listens to the channel (a client of each has its own message back), publish across.
      clients[0]!.send('hello from one worker');
      await Promise.all(logs.map((log) => log.next((m) => m.text === 'hello from one worker')));
      assert.equal((await post(relay, 'w', 'over http')).status, 200);
      await Promise.all(logs.map((log) => log.next((m) => m.text === 'over http')));

      const closes = clients.map((client) => closed(client));
      const exit = await relay.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
      assert.match(relay.stderr(), /worker=primary/);
    } finally {
      await relay.stop('SIGKILL');
      await wipe(kind, prefix);
    }
  });

  test(`${kind.name} cannot be reached at start: an error naming the URL, exit 1`, async () => {
    // A port held for this test, on which nothing listens: connecting to it is refused.
    const hold = await PortHold.take();
    const url = `${kind.flag === '--redis' ? 'redis' : 'nats'}://127.0.0.1:${hold.port}`;
    const { code, stdout, stderr } = await runServeCommand(['--port', '0', '--host', '127.0.0.1', kind.flag, url]).finally(() =>
      hold.release(),
    );
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`cannot start the relay: Cannot reach ${kind.name} at ${url.replace(/[.]/g, '\\.')}: ECONNREFUSED`));
  });
}

test('--workers 2 without a broker: exit 2, saying why', async () => {
  const { code, stderr } = await runServeCommand(['--workers', '2']);
  assert.equal(code, 2);
  assert.match(stderr, /--workers 2 needs --redis or --nats/);
});
