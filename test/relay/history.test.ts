// The relay's in-memory history (relay/history.ts): sequence numbers, reads after `since`, the count, age and byte
// bounds and the lost ranges they make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_BYTES } from '../../src/relay/history-log.js';
import { CHANNEL_OVERHEAD, MemoryHistory } from '../../src/relay/history.js';
import { Namespaces } from '../../src/relay/namespaces.js';

function store(options: Partial<{ limit: number; ttl: number; maxBytes: number }> = {}) {
  let now = 1_000;
  const history = new MemoryHistory({ limit: 3, ttl: 0, maxBytes: 1024, epoch: 'e1', now: () => now, ...options });
  return { history, advance: (ms: number) => (now += ms) };
}
const texts = (messages: { data: Buffer }[]) => messages.map((m) => m.data.toString());

test('each channel numbers its messages from 1, stamped with the time', () => {
  const { history } = store();
  assert.deepEqual([history.append('a', Buffer.from('x'), false).seq, history.append('a', Buffer.from('y'), false).seq], [1, 2]);
  const other = history.append('b', Buffer.from('z'), true);
  assert.equal(other.seq, 1);
  assert.equal(other.time, 1_000);
  assert.equal(history.latest('a'), 2);
  assert.equal(history.latest('none'), 0);
});

test('a read after `since` gives exactly the later messages, in order', () => {
  const { history } = store();
  for (const t of ['1', '2', '3']) history.append('a', Buffer.from(t), false);
  assert.deepEqual(texts(history.read('a', 1).messages), ['2', '3']);
  assert.deepEqual(history.read('a', 1).lost, undefined);
  assert.deepEqual(history.read('a', 3), { messages: [], latest: 3 });
  assert.deepEqual(history.read('unknown', 0), { messages: [], latest: 0 });
});

test('past the count limit, the oldest go, and a read from before them names the lost range', () => {
  const { history } = store({ limit: 3 });
  for (const t of ['1', '2', '3', '4', '5']) history.append('a', Buffer.from(t), false);
  const read = history.read('a', 0);
  assert.deepEqual(texts(read.messages), ['3', '4', '5']);
  assert.deepEqual(read.lost, { from: 1, to: 2 });
  assert.deepEqual(history.read('a', 1).lost, { from: 2, to: 2 });
  assert.equal(history.read('a', 2).lost, undefined);
});

test('messages older than the ttl are gone', () => {
  const { history, advance } = store({ ttl: 60_000 });
  history.append('a', Buffer.from('old'), false);
  advance(30_000);
  history.append('a', Buffer.from('new'), false);
  advance(40_000);
  const read = history.read('a', 0);
  assert.deepEqual(texts(read.messages), ['new']);
  assert.deepEqual(read.lost, { from: 1, to: 1 });
});

test('the bytes kept per channel are bounded', () => {
  const { history } = store({ limit: 100, maxBytes: 10 });
  history.append('a', Buffer.alloc(6), false);
  history.append('a', Buffer.alloc(6), false);
  assert.deepEqual(history.size('a'), { messages: 1, bytes: 6 });
  history.append('a', Buffer.alloc(11), false);
  // A message larger than the bound is not kept, nor anything before it (no hole in what is kept).
  assert.deepEqual(history.read('a', 0), { messages: [], latest: 3, lost: { from: 1, to: 3 } });
  history.append('a', Buffer.alloc(2), false);
  assert.deepEqual(history.read('a', 2).lost, { from: 3, to: 3 });
  assert.deepEqual(
    history.read('a', 2).messages.map((m) => m.seq),
    [4],
  );
});

test('with no history, numbers are still given and every earlier message is reported lost', () => {
  const { history } = store({ limit: 0 });
  history.append('a', Buffer.from('x'), false);
  history.append('a', Buffer.from('y'), false);
  assert.deepEqual(history.read('a', 0), { messages: [], latest: 2, lost: { from: 1, to: 2 } });
});

test('the kept data is a copy', () => {
  const { history } = store();
  const buffer = Buffer.from('abc');
  history.append('a', buffer, false);
  buffer.write('zzz');
  assert.equal(history.read('a', 0).messages[0]!.data.toString(), 'abc');
});

/** What a history holding only the given appends counts (a probe: the same layout as the history tested). */
function costOf(appends: [channel: string, bytes: number][], options = { limit: 100, ttl: 0, maxBytes: 100 }): number {
  const probe = new MemoryHistory(options);
  for (const [channel, bytes] of appends) probe.append(channel, Buffer.alloc(bytes), false);
  return probe.totalBytes;
}

test('the memory kept for all channels is bounded, overheads counted: the quietest channels lose their oldest first', () => {
  const quiet = (n: number) => Array.from({ length: n }, () => ['quiet', 4] as [string, number]);
  // Room for 'busy' with one message and 'quiet' with as many as its first slots and ring hold.
  let fits = 1;
  while (costOf(quiet(fits + 1)) === costOf(quiet(1))) fits++;
  const max = costOf([...quiet(fits), ['busy', 4]]) + 10;
  const history = new MemoryHistory({ limit: 100, ttl: 0, maxBytes: 100, maxTotalBytes: max });
  history.append('quiet', Buffer.alloc(4), false);
  history.append('busy', Buffer.alloc(4), false);
  for (let i = 1; i < fits; i++) history.append('quiet', Buffer.alloc(4), false);
  assert.equal(history.totalBytes, max - 10);
  assert.equal(history.channels, 2);
  // One more needs more memory for 'quiet': 'busy', now the quietest, loses its message and its record.
  history.append('quiet', Buffer.alloc(4), false);
  assert.ok(history.totalBytes <= max);
  assert.equal(history.totalBytes, costOf(quiet(fits + 1)));
  assert.equal(history.channels, 1);
  assert.deepEqual(history.read('busy', 0), { messages: [], latest: 1, lost: { from: 1, to: 1 } });
  assert.deepEqual(
    history.read('quiet', 0).messages.map((m) => m.seq),
    Array.from({ length: fits + 1 }, (_, i) => i + 1),
  );
  assert.equal(history.latest('quiet'), fits + 1, 'numbering goes on');
  assert.equal(history.append('busy', Buffer.alloc(4), false).seq, 2, 'a channel that comes back goes on above its numbers');
});

test('a message of 0 bytes counts its real cost: no more of them are kept than the total bound pays for', () => {
  const max = 64 * 1024;
  const history = new MemoryHistory({ limit: 1_000_000, ttl: 0, maxBytes: 1 << 20, maxTotalBytes: max });
  for (let i = 0; i < 10_000; i++) history.append('empty', Buffer.alloc(0), false);
  assert.ok(history.totalBytes <= max);
  const kept = history.size('empty').messages;
  const paidFor = Math.floor((max - CHANNEL_OVERHEAD - 2 * 'empty'.length) / ENTRY_BYTES);
  assert.ok(kept <= paidFor, `${kept} kept, the bound pays for ${paidFor}`);
  // The channel's slots grow by doubling: at least half of what the bound pays for stays in use.
  assert.ok(kept >= paidFor / 2, `only ${kept} kept of the ${paidFor} the bound pays for`);
  assert.equal(history.latest('empty'), 10_000);
  assert.deepEqual(history.read('empty', 0).lost, { from: 1, to: 10_000 - kept });
});

test('the ttl is applied by a sweep: idle channels are freed without being touched, the others kept', () => {
  const { history, advance } = store({ ttl: 60_000, limit: 10 });
  for (let i = 0; i < 1000; i++) history.append(`idle-${i}`, Buffer.from('x'), false);
  for (let i = 0; i < 5; i++) history.append('a', Buffer.from(String(i + 1)), false);
  advance(30_000);
  history.append('live', Buffer.from('x'), false);
  advance(31_000);
  history.sweep();
  assert.equal(history.channels, 1, 'only the channel written within the ttl is kept');
  assert.equal(history.totalBytes, costOf([['live', 1]], { limit: 10, ttl: 60_000, maxBytes: 1024 }));
  // 'a' comes back: its numbers go on above those a client may hold, and a client since 3 is told of a gap.
  assert.equal(history.latest('a'), 5);
  assert.deepEqual(history.read('a', 3), { messages: [], latest: 5, lost: { from: 4, to: 5 } });
  const next = history.append('a', Buffer.from('again'), false);
  assert.ok(next.seq > 5, `seq ${next.seq}`);
  assert.deepEqual(history.read('a', 3).lost, { from: 4, to: next.seq - 1 });
  assert.equal(history.append('never-seen', Buffer.from('x'), false).seq, 1, 'a new channel starts at 1');
});

test('channels with a record are bounded: past maxChannels the quietest is freed', () => {
  const history = new MemoryHistory({ limit: 10, ttl: 0, maxBytes: 1024, maxChannels: 100 });
  for (let i = 0; i < 1000; i++) history.append(`c${i}`, Buffer.from('x'), false);
  assert.equal(history.channels, 100);
  assert.deepEqual(
    history.read('c999', 0).messages.map((m) => m.seq),
    [1],
  );
  assert.deepEqual(history.read('c0', 0), { messages: [], latest: 1, lost: { from: 1, to: 1 } });
  assert.equal(history.append('c0', Buffer.from('y'), false).seq, 2);
});

test("namespaces keep their own history size and age; other channels keep the flags'", () => {
  let now = 1_000;
  const flags = { limit: 3, ttl: 0, maxBytes: 1024 };
  const namespaces = Namespaces.parse({
    namespaces: { 'big:': { history: 5 }, 'short:': { history: 10, historyTtl: 1 }, 'none:': { history: 0 }, 'big:own:': {} },
  });
  const history = new MemoryHistory({ ...flags, epoch: 'e1', now: () => now, perChannel: namespaces.historyBounds(flags) });
  for (const channel of ['big:a', 'short:a', 'none:a', 'plain', 'big:own:a'])
    for (let i = 1; i <= 8; i++) history.append(channel, Buffer.from(String(i)), false);
  assert.deepEqual(texts(history.read('big:a', 0).messages), ['4', '5', '6', '7', '8']);
  assert.deepEqual(texts(history.read('short:a', 0).messages), ['1', '2', '3', '4', '5', '6', '7', '8']);
  assert.deepEqual(texts(history.read('plain', 0).messages), ['6', '7', '8']);
  // The longest prefix's rules, not inherited from a shorter one.
  assert.deepEqual(texts(history.read('big:own:a', 0).messages), ['6', '7', '8']);
  // History 0: numbers still given, nothing kept; a client since 2 is told exactly what it missed.
  assert.deepEqual(history.read('none:a', 2), { messages: [], latest: 8, lost: { from: 3, to: 8 } });
  now += 1_001;
  assert.deepEqual(history.read('short:a', 6), { messages: [], latest: 8, lost: { from: 7, to: 8 } });
  assert.equal(history.size('big:a').messages, 5, 'no age limit outside short:');
  // The sweep frees short:'s idle channel by its own ttl, though the flags set none.
  history.sweep();
  assert.equal(history.channels, 4);
});
