// Presence under churn. In the issue, about 11 KB/s of joins and leaves went out as one envelope per
// change to every member (678 MiB in 16 s to 2,000 members). Now a channel's members get at most
// --presence-updates envelopes one by one per second, then one summary of the rest at the end of the
// second; every member's view of who is online still ends right, a member that joined mid-churn's too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawV1, startRelay } from '../../fuzz/relay-harness.js';
import { WavecastClient, type ClientEvents } from '../../src/browser/index.js';
import { WebSocket } from '../../src/index.js';
import { UpdatePacer } from '../../src/relay/update-pacer.js';

test('the pacer lets `burst` updates a key through per interval and flushes the rest once', () => {
  let now = 0;
  const flushed: string[] = [];
  const pacer = new UpdatePacer<string>({ burst: 2, interval: 1000, flush: (key) => flushed.push(key), now: () => now });
  assert.deepEqual(
    [pacer.offer('a'), pacer.offer('a'), pacer.offer('a'), pacer.offer('a'), pacer.offer('b')],
    [true, true, false, false, true],
  );
  pacer.tick();
  assert.deepEqual(flushed, ['a'], 'one flush for the two held updates');
  // The flush counts as the first update of the next interval.
  assert.deepEqual([pacer.offer('a'), pacer.offer('a')], [true, false]);
  now += 1000;
  pacer.tick();
  assert.deepEqual(flushed, ['a', 'a']);
  now += 1000;
  pacer.tick();
  assert.equal(pacer.size, 0, 'keys quiet for an interval are forgotten');
  pacer.stop();
});

interface Watcher {
  client: WavecastClient;
  names: string[];
  envelopes: number;
  joined: Promise<void>;
  waitFor(names: string[]): Promise<void>;
}

function watch(port: number, name: string): Watcher {
  const client = new WavecastClient(`ws://127.0.0.1:${port}/`, { WebSocket, name, pingInterval: 0 });
  let resolveJoined!: () => void;
  const w: Watcher = {
    client,
    names: [],
    envelopes: 0,
    joined: new Promise((resolve) => (resolveJoined = resolve)),
    waitFor: (names) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (JSON.stringify(w.names) !== JSON.stringify(names)) return false;
          resolve();
          return true;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`${name} sees ${JSON.stringify(w.names)}`)), 10_000);
        const off = client.on('presence', () => {
          if (check()) {
            clearTimeout(timer);
            off();
          }
        });
      }),
  };
  client.on('joined', () => resolveJoined());
  client.on('presence', (p: ClientEvents['presence']) => {
    w.names = p.names;
    if (p.event !== undefined || p.joined !== undefined) w.envelopes++;
  });
  client.join('lobby');
  return w;
}

test('1,000 joins and leaves: each member gets a few presence envelopes a second, and ends up knowing who is there', {
  timeout: 30_000,
}, async () => {
  const r = await startRelay({ maxPayload: 4096, historyLimit: 10 }, { presenceUpdates: 2 });
  const churners: RawV1[] = [];
  const watchers: Watcher[] = [];
  let late: Watcher | null = null;
  try {
    for (let i = 0; i < 3; i++) watchers.push(watch(r.port, `watcher-${i}`));
    await Promise.all(watchers.map((w) => w.joined));
    for (let i = 0; i < 20; i++) churners.push(await RawV1.open(r.port));
    const start = performance.now();
    for (let round = 0; round < 25; round++) {
      for (const [i, c] of churners.entries()) {
        c.sendJson({ type: 'join', channel: 'lobby', name: `c${i}-${round}` });
        c.sendJson({ type: 'leave', channel: 'lobby' });
      }
      if (round === 12) late = watch(r.port, 'late');
    }
    // In the end each churner stays, under its last name.
    for (const [i, c] of churners.entries()) c.sendJson({ type: 'join', channel: 'lobby', name: `c${i}-final` });
    await Promise.all(churners.map((c) => c.barrier()));
    const expected = [...churners.map((_, i) => `c${i}-final`), 'late', ...watchers.map((_, i) => `watcher-${i}`)].sort();
    await Promise.all([...watchers, late!].map((w) => w.waitFor(expected)));
    const seconds = (performance.now() - start) / 1000;
    // 1,020 changes; at most 2 one by one, then one summary, per second (and one more for the second under way).
    const bound = 3 * (Math.ceil(seconds) + 1);
    for (const w of watchers)
      assert.ok(w.envelopes <= bound, `${w.envelopes} presence envelopes in ${seconds.toFixed(1)} s (bound ${bound}) for 1,020 changes`);
  } finally {
    for (const w of watchers) w.client.close();
    late?.client.close();
    for (const c of churners) await c.destroy();
    await r.relay.close(100);
  }
});
