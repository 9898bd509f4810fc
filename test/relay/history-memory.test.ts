// Found by the relay-replay fuzz target (its arrayBuffers grew by 17 KB an input): history kept each
// message as a copy from Buffer's shared 8 KiB pool, so a message of a few bytes could keep a whole
// pool block alive, far beyond what --history-bytes and --history-total-bytes count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MemoryHistory } from '../../src/relay/history.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Array buffers in use after full garbage collections: V8 frees the memory of dead ones off the main thread
 * after a collection, so one gc() alone may leave some of the garbage counted; a few rounds, a turn apart, do not.
 */
async function liveArrayBuffers(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await nextTurn();
  }
  return process.memoryUsage().arrayBuffers;
}

test('what history keeps costs about its payload bytes, not a pool block per message', async () => {
  const history = new MemoryHistory({ limit: 10, ttl: 0, maxBytes: 1 << 20 });
  const before = await liveArrayBuffers();
  let garbage = 0;
  for (let i = 0; i < 20_000; i++) {
    history.append(`channel-${i}`, Buffer.from([i & 0xff, 1, 2, 3]), true);
    // Short-lived pooled buffers between appends, as a server's reads and writes make.
    garbage += Buffer.from('x'.repeat(3000)).length;
  }
  const kept = (await liveArrayBuffers()) - before;
  assert.equal(history.size('channel-7').bytes, 4);
  assert.ok(garbage > 0);
  // 80,000 payload bytes: allow 4 MiB; with pooled copies 20,000 messages kept about 60 MiB alive.
  assert.ok(kept < 4 * 1024 * 1024, `history of 80,000 payload bytes keeps ${(kept / 1048576).toFixed(1)} MiB of buffers alive`);
  assert.deepEqual([...history.read('channel-7', 0).messages[0]!.data], [7, 1, 2, 3]);
});

/** Heap and buffers in use after a full garbage collection. */
function used(): number {
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

// Found in the issue: --history-total-bytes counted payload only, so 0-byte messages counted nothing
// (about 600 B of RSS each), and every channel name ever used kept a record (about 500 B each).
test('history of 0-byte messages, or of many channels, stays within --history-total-bytes', () => {
  const max = 8 * 1024 * 1024;
  for (const [what, channel] of [
    ['200,000 messages of 0 bytes on one channel', () => 'one'],
    ['200,000 channels of one 0-byte message each', (i: number) => `channel-${i}`],
  ] as const) {
    const history = new MemoryHistory({ limit: 1_000_000, ttl: 0, maxBytes: 1 << 20, maxTotalBytes: max });
    const before = used();
    const empty = Buffer.alloc(0);
    for (let i = 0; i < 200_000; i++) history.append(channel(i), empty, false);
    const grown = used() - before;
    assert.ok(history.totalBytes <= max);
    // Without the overheads counted this held about 57 MiB (one channel) and 108 MiB (many channels).
    assert.ok(grown < max, `${what}: ${(grown / 1048576).toFixed(1)} MiB held for a bound of 8 MiB`);
    assert.ok(history.channels >= 1);
  }
});
