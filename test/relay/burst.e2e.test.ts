// A burst through `wavecast serve` with its default flags: several senders each send a handful of large
// messages at once (within the rate limit and --max-payload). Readers that keep up, plain and wavecast.v1,
// get every message; none is dropped or closed as "too slow" (they used to be: the bytes corked for the
// turn counted as backlog, so 4 x 10 messages of 60 KB in one turn passed the 1 MiB bound).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, killAll, record, startRelay, v1 } from './relay-process.js';

after(killAll);

test('4 senders x 10 messages of 60 KB at once: every plain and wavecast.v1 reader gets all 40', { timeout: 60_000 }, async () => {
  const relay = await startRelay();
  try {
    const channel = `${relay.url}/burst`;
    const readers = await Promise.all([0, 1, 2].map(() => connect(channel)));
    const readerLogs = readers.map(record);
    const closes: number[] = [];
    for (const reader of readers) reader.on('close', (code: number) => closes.push(code));
    const v1Readers = await Promise.all([0, 1].map(() => v1(relay)));
    for (const reader of v1Readers) {
      reader.client.on('close', (code: number) => closes.push(code));
      reader.send({ type: 'join', channel: 'burst' });
      await reader.next('joined');
    }
    const senders = await Promise.all([0, 1, 2, 3].map(() => connect(channel)));
    // The relay is stopped while the senders write, so that it reads the whole burst in one turn when it
    // goes on (the kernel holds the 2.4 MB meanwhile), as a busy relay does.
    relay.child.kill('SIGSTOP');
    const written = senders.map(
      (sender, s) =>
        new Promise<void>((resolve) => {
          for (let i = 0; i < 10; i++) sender.send(`${s}:${i}:`.padEnd(60_000, 'x'), i === 9 ? () => resolve() : undefined);
        }),
    );
    await Promise.all(written);
    relay.child.kill('SIGCONT');
    const TOTAL = 40;
    for (const log of readerLogs) {
      for (let i = 0; i < TOTAL; i++) await log.next(undefined, 20_000);
      assert.equal(log.messages.length, TOTAL);
    }
    for (const reader of v1Readers) {
      for (let i = 0; i < TOTAL; i++) await reader.next('message', undefined, 20_000);
      assert.deepEqual(
        reader.messages('burst').map(([seq]) => seq),
        Array.from({ length: TOTAL }, (_, i) => i + 1),
      );
    }
    assert.deepEqual(closes, []);
    const metrics = await (await fetch(`${relay.http}/metrics`)).text();
    assert.match(metrics, /^wavecast_relay_dropped_messages_total 0$/m);
    for (const client of [...readers, ...senders, ...v1Readers.map((r) => r.client)]) client.terminate();
  } finally {
    await relay.stop();
  }
});
