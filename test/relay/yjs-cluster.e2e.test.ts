// Collaborative documents across nodes (real `wavecast serve` processes through the machine's Redis and
// NATS): editors of one document on different nodes converge, cursors and names included; a node killed
// and started again loses nothing; documents outlive every node (kept by the broker, or PostgreSQL).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { uniquePrefix } from '../cluster/setup.js';
import { BROKERS, type BrokerKind } from './cluster-setup.js';
import { killAll, startRelay, type RelayProcess } from './relay-process.js';
import { agree, awarenessHas, destroy, destroyAll, editor } from './yjs-helpers.js';
import { RedisDocStore } from '../../src/relay/docs/store-redis.js';
import { NatsDocStore } from '../../src/relay/docs/store-nats.js';

after(killAll);
after(destroyAll);

const POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

function node(kind: BrokerKind, prefix: string, extra: string[] = []): Promise<RelayProcess> {
  return startRelay([kind.flag, kind.shared, '--cluster-prefix', prefix, '--presence-heartbeat', '1', ...extra]);
}

async function wipeDocs(kind: BrokerKind, prefix: string): Promise<void> {
  const store = kind.name === 'Redis' ? await RedisDocStore.open(kind.shared, prefix) : await NatsDocStore.open(kind.shared, prefix);
  await store.wipe();
  await store.close();
}

const nameOf = (state: Record<string, unknown>) => (state.user as { name?: string } | undefined)?.name;

for (const kind of BROKERS) {
  test(`${kind.name}: editors on two nodes converge, each sees the other's name; a node killed and started again loses nothing; the documents outlive every node`, async () => {
    const prefix = uniquePrefix('docs');
    let a = await node(kind, prefix);
    const b = await node(kind, prefix);
    try {
      const ada = await editor(a.url, 'spec', { user: 'Ada' });
      const bob = await editor(b.url, 'spec', { user: 'Bob' });
      for (let i = 0; i < 10; i++) {
        ada.text.insert(0, `a${i} `);
        bob.text.insert(bob.text.length, `b${i} `);
      }
      const text = await agree([ada, bob], (t) => t.length === 60);
      for (let i = 0; i < 10; i++) assert.ok(text.includes(`a${i} `) && text.includes(`b${i} `));
      await awarenessHas(bob.provider, (state) => nameOf(state) === 'Ada');
      await awarenessHas(ada.provider, (state) => nameOf(state) === 'Bob');

      // Node A dies with Ada on it; her last words were heard on B. A comes back: an editor there has it all.
      ada.text.insert(0, 'last words. ');
      await agree([ada, bob], (t) => t.startsWith('last words. '));
      destroy(ada);
      await a.stop('SIGKILL');
      a = await node(kind, prefix);
      const carol = await editor(a.url, 'spec');
      await agree([carol, bob], (t) => t === bob.text.toString() && t.startsWith('last words. '));
      // Bob leaves (B stores what it holds), Carol edits once more, then every node stops.
      destroy(bob);
      carol.text.insert(carol.text.length, 'the end');
      const expected = await agree([carol], (t) => t.endsWith('the end'));
      destroy(carol);
      await Promise.all([a.stop(), b.stop()]);

      const fresh = await node(kind, prefix);
      try {
        const dave = await editor(fresh.url, 'spec');
        assert.equal(dave.text.toString(), expected);
        destroy(dave);
      } finally {
        await fresh.stop();
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await wipeDocs(kind, prefix);
    }
  });
}

test('PostgreSQL (--postgres): two nodes share the documents; everything is there after both stop', async () => {
  const prefix = uniquePrefix('pgdocs');
  const doc = `${prefix}/report`;
  const kind = BROKERS[0]!;
  const a = await node(kind, prefix, ['--postgres', POSTGRES]);
  const b = await node(kind, prefix, ['--postgres', POSTGRES]);
  const client = new pg.Client({ connectionString: POSTGRES });
  await client.connect();
  try {
    const ada = await editor(a.url, doc);
    const bob = await editor(b.url, doc);
    ada.text.insert(0, 'from A. ');
    bob.text.insert(0, 'from B. ');
    const text = await agree([ada, bob], (t) => t.length === 16);
    destroy(ada, bob);
    await Promise.all([a.stop(), b.stop()]);
    // Each node stored what it held when its editor left: compacted rows, every edit in them.
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM wavecast_doc_updates WHERE doc = $1', [doc]);
    assert.ok(Number(rows[0]!.n) >= 1);
    const c = await node(kind, prefix, ['--postgres', POSTGRES]);
    try {
      const carol = await editor(c.url, doc);
      assert.equal(carol.text.toString(), text);
      destroy(carol);
    } finally {
      await c.stop();
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await client.query('DELETE FROM wavecast_doc_updates WHERE doc = $1', [doc]);
    await client.end();
  }
});
