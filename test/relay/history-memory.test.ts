// Found by the relay-replay fuzz target (its arrayBuffers grew by 17 KB an input): history kept each
// message as a copy from Buffer's shared 8 KiB pool, so a message of a few bytes could keep a whole
// pool block alive, far beyond what --history-bytes and --history-total-bytes count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryHistory } from '../../src/relay/history.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('what history keeps costs about its payload bytes, not a pool block per message', () => {
  const history = new MemoryHistory({ limit: 10, ttl: 0, maxBytes: 1 << 20 });
  gc();
  const before = process.memoryUsage().arrayBuffers;
  let garbage = 0;
  for (let i = 0; i < 20_000; i++) {
    history.append(`channel-${i}`, Buffer.from([i & 0xff, 1, 2, 3]), true);
    // Short-lived pooled buffers between appends, as a server's reads and writes make.
    garbage += Buffer.from('x'.repeat(3000)).length;
  }
  gc();
  const kept = process.memoryUsage().arrayBuffers - before;
  assert.equal(history.totalBytes, 80_000);
  assert.ok(garbage > 0);
  // 80,000 payload bytes: allow 4 MiB; with pooled copies 20,000 messages kept about 60 MiB alive.
  assert.ok(kept < 4 * 1024 * 1024, `history of 80,000 payload bytes keeps ${(kept / 1048576).toFixed(1)} MiB of buffers alive`);
  assert.deepEqual([...history.read('channel-7', 0).messages[0]!.data], [7, 1, 2, 3]);
});
