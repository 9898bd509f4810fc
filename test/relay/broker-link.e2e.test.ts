// One broker link per relay node: the adapter, the history and the documents' store share it, so a node
// holds exactly the connections the broker's protocol needs (Redis: a command and a subscriber
// connection; NATS: one), before and after the broker restarts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createClient } from 'redis';
import { PrivateBroker, uniquePrefix } from '../cluster/setup.js';
import { until } from './cluster-setup.js';
import { connect, http, killAll, record, startRelay, type RelayProcess } from './relay-process.js';

after(killAll);

/** Connections to a private Redis other than the one asking (CLIENT LIST lists every client). */
async function redisConnections(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const list = String(await client.sendCommand(['CLIENT', 'LIST']));
    return list.split('\n').filter((line) => line.trim() !== '' && !/ cmd=client\|list /.test(line)).length;
  } finally {
    await client.quit();
  }
}

/** Connections to a private NATS, from its monitoring endpoint. */
function natsConnections(monitorPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: monitorPort, path: '/connz' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve((JSON.parse(body) as { num_connections: number }).num_connections));
    })
      .on('error', reject)
      .end();
  });
}

async function healthy(node: RelayProcess): Promise<boolean> {
  return (await http(node.http, 'GET', '/healthz')).body.startsWith('ok');
}

/** A message posted over HTTP reaches a client of the channel: the link carries publishes and stores history. */
async function roundTrip(node: RelayProcess, body: string): Promise<void> {
  const client = await connect(`${node.url}/room`);
  const log = record(client);
  try {
    const response = await http(node.http, 'POST', '/channels/room/messages', { headers: { 'Content-Type': 'text/plain' }, body });
    assert.equal(response.status, 200, response.body);
    await log.next((m) => m.text === body);
  } finally {
    client.terminate();
  }
}

const kinds = [
  {
    name: 'Redis',
    flag: '--redis',
    connections: 2,
    broker: () => PrivateBroker.redis(true),
    count: (broker: PrivateBroker) => redisConnections(broker.url),
  },
  {
    name: 'NATS',
    flag: '--nats',
    connections: 1,
    broker: () => PrivateBroker.nats(true, true),
    count: (broker: PrivateBroker) => natsConnections(broker.monitorPort!),
  },
];

for (const kind of kinds) {
  test(`${kind.name}: a relay node with history and documents holds ${kind.connections} broker connection(s), and as many after the broker restarts`, {
    timeout: 60_000,
  }, async () => {
    const broker = await kind.broker();
    let node: RelayProcess | null = null;
    try {
      node = await startRelay([kind.flag, broker.url, '--cluster-prefix', uniquePrefix('link'), '--rate-limit', '0']);
      const relay = node;
      // The documents' store opens with the relay (a cluster without --postgres keeps them on the broker).
      assert.equal((await http(relay.http, 'GET', '/docs/notes')).status, 200);
      await roundTrip(relay, 'before');
      assert.equal(await kind.count(broker), kind.connections);

      await broker.kill();
      await until('the node says its link is down', async () => !(await healthy(relay)));
      await broker.start();
      await until('the node is linked again', () => healthy(relay), 20_000);
      await roundTrip(relay, 'after');
      assert.equal((await http(relay.http, 'GET', '/docs/notes')).status, 200);
      assert.equal(await kind.count(broker), kind.connections, 'no connection is left behind or opened twice by the reconnect');
    } finally {
      await node?.stop();
      await broker.dispose();
    }
  });
}
