// The in-memory history's layout (relay/history-log.ts): each channel's kept messages in one ring of numbers
// and one ring of bytes. Checked against a plain list of what the bounds keep, over random appends whose
// payloads wrap the ring, grow it and shrink it; and for what it holds in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ENTRY_BYTES } from '../../src/relay/history-log.js';
import { CHANNEL_OVERHEAD, MemoryHistory } from '../../src/relay/history.js';

/** A small deterministic generator (xorshift32), so that a failure can be replayed from its seed. */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Kept {
  seq: number;
  data: Buffer;
  binary: boolean;
  from?: string;
}

test('random appends and reads give exactly what a plain list under the same bounds keeps', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = random(seed * 7919);
    const limit = 1 + rand(40);
    const maxBytes = 16 + rand(600);
    const history = new MemoryHistory({ limit, ttl: 0, maxBytes, epoch: 'e' });
    const channels = ['a', 'b', 'c'];
    const model = new Map<string, { seq: number; kept: Kept[] }>(channels.map((c) => [c, { seq: 0, kept: [] }]));
    // What the bounds keep: the newest messages, at most `limit` and `maxBytes`; one too big for the
    // bound is not kept, and nothing before it either.
    const keep = (m: { seq: number; kept: Kept[] }, data: Buffer, binary: boolean, from: string | undefined) => {
      m.seq++;
      if (data.length > maxBytes) {
        m.kept = [];
        return;
      }
      m.kept.push({ seq: m.seq, data: Buffer.from(data), binary, ...(from === undefined ? {} : { from }) });
      while (m.kept.length > limit || m.kept.reduce((n, k) => n + k.data.length, 0) > maxBytes) m.kept.shift();
    };
    for (let step = 0; step < 3000; step++) {
      const channel = channels[rand(channels.length)]!;
      const m = model.get(channel)!;
      // Mostly small, sometimes empty, now and then larger than the bound (not kept, nor anything before).
      const size = rand(10) === 0 ? 0 : rand(20) === 0 ? maxBytes + 1 + rand(50) : rand(Math.min(maxBytes, 200) + 1);
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = rand(256);
      const binary = rand(2) === 1;
      const from = rand(3) === 0 ? undefined : `conn-${rand(5)}`;
      const appended = history.append(channel, data, binary, from);
      assert.equal(appended.seq, m.seq + 1);
      keep(m, data, binary, from);
      // The caller's buffer is not held: changing it changes nothing kept.
      data.fill(0xee);
      if (rand(8) === 0) {
        const since = rand(m.seq + 2);
        const read = history.read(channel, since);
        const expected = m.kept.filter((k) => k.seq > since);
        const where = `seed ${seed}, step ${step}, channel ${channel}, since ${since}`;
        assert.equal(read.latest, m.seq, where);
        assert.deepEqual(
          read.messages.map((x) => ({ seq: x.seq, data: [...x.data], binary: x.binary, from: x.from })),
          expected.map((k) => ({ seq: k.seq, data: [...k.data], binary: k.binary, from: k.from })),
          where,
        );
        const first = m.kept[0]?.seq ?? m.seq + 1;
        const lost = since + 1 < first && since < m.seq ? { from: since + 1, to: Math.min(first - 1, m.seq) } : undefined;
        assert.deepEqual(read.lost, lost, where);
        // What a read gave stays as it was whatever is appended after (a replay sends it later).
        const copy = read.messages.map((x) => Buffer.from(x.data));
        for (let i = 0; i < 5; i++) {
          const more = Buffer.alloc(rand(maxBytes + 1), 0x55);
          history.append(channel, more, false);
          keep(m, more, false, undefined);
        }
        assert.deepEqual(
          read.messages.map((x) => [...x.data]),
          copy.map((b) => [...b]),
          where,
        );
      }
      const size2 = history.size(channel);
      assert.equal(size2.messages, m.kept.length);
      assert.equal(
        size2.bytes,
        m.kept.reduce((n, k) => n + k.data.length, 0),
      );
    }
    // The memory counted stays within what the bounds allow: slots for `limit` messages and a byte ring
    // at most half again the bytes kept, per channel.
    const most = channels.length * (CHANNEL_OVERHEAD + 2 + limit * ENTRY_BYTES + Math.ceil(maxBytes * 1.5) + 16);
    assert.ok(history.totalBytes <= most, `seed ${seed}: ${history.totalBytes} counted, at most ${most} expected`);
  }
});

test('under a total bound, the memory counted never passes it and the busy channel keeps its newest', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const rand = random(seed * 104729);
    const max = 4096 + rand(8192);
    const history = new MemoryHistory({ limit: 50, ttl: 0, maxBytes: 2000, maxTotalBytes: max });
    let busySeq = 0;
    for (let step = 0; step < 4000; step++) {
      const quiet = rand(4) === 0;
      const channel = quiet ? `quiet-${rand(30)}` : 'busy';
      const appended = history.append(channel, Buffer.alloc(rand(120), 1), false);
      if (!quiet) busySeq = appended.seq;
      assert.ok(history.totalBytes <= max, `seed ${seed}, step ${step}: ${history.totalBytes} counted for a bound of ${max}`);
    }
    // The channel written most recently (or nearly) keeps at least its newest message.
    history.append('busy', Buffer.alloc(10, 2), false);
    const read = history.read('busy', 0);
    assert.equal(read.latest, busySeq + 1);
    assert.equal(read.messages.at(-1)?.seq, busySeq + 1);
    assert.deepEqual([...read.messages.at(-1)!.data], Array(10).fill(2));
  }
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap and buffers in use after a full garbage collection. */
function used(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

// Found in the relay benchmark at 5,000 messages a second: each kept message was a record, a copy of its
// payload with its own ArrayBuffer and an array slot (about 400 bytes of heap), which lived long enough to be
// copied and promoted by the young generation's collections: 3 to 5 ms each, the relay's p99 12 ms
// against 5 ms with history off.
test('a kept message costs memory close to its payload, and what is counted is what is held', () => {
  const before = used();
  const history = new MemoryHistory({ limit: 100, ttl: 0, maxBytes: 1 << 20 });
  const payload = Buffer.alloc(64, 7);
  const channels = 100;
  // Each channel filled twice over: the second hundred replace the first in the same memory.
  for (let round = 0; round < 2; round++) {
    for (let c = 0; c < channels; c++) for (let i = 0; i < 100; i++) history.append(`channel-${c}`, payload, false, 'conn-1');
  }
  const grown = used() - before;
  const perMessage = grown / (channels * 100);
  // A record, a copy with its own ArrayBuffer and an array slot per message held about 560 B each here.
  assert.ok(perMessage < 200, `${perMessage.toFixed(0)} B held per kept message of 64 bytes`);
  // What --history-total-bytes counts is what is held (within a quarter, either way).
  assert.ok(grown < history.totalBytes * 1.25 && grown > history.totalBytes * 0.75, `${grown} B held, ${history.totalBytes} counted`);
  assert.deepEqual([...history.read('channel-7', 150).messages[0]!.data], [...payload]);
  assert.equal(history.read('channel-7', 150).messages[0]!.seq, 151);
});
