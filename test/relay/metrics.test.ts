// The relay's Prometheus metrics (relay/metrics.ts): HELP and TYPE lines, the busiest channels, escaped labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayMetrics, busiest, escapeLabel, renderMetrics } from '../../src/relay/metrics.js';
import { createStats } from '../../src/server/stats.js';

test('the exposition has HELP and TYPE for every metric and the counted values', () => {
  const metrics = new RelayMetrics();
  metrics.connectionsOpened = 3;
  metrics.relayed('websocket', 5, 2);
  metrics.relayed('http', 7, 2);
  const stats = createStats();
  stats.droppedMessages = 4;
  const counts: Record<string, number> = { a: 1, b: 2 };
  const text = renderMetrics({
    metrics,
    stats,
    connections: 2,
    queuedBytes: 0,
    channels: ['a', 'b'],
    subscriberCount: (c) => counts[c]!,
    topChannels: 10,
  });
  assert.match(text, /^# HELP wavecast_relay_connections .+\n# TYPE wavecast_relay_connections gauge\nwavecast_relay_connections 2$/m);
  assert.match(text, /^wavecast_relay_connections_opened_total 3$/m);
  assert.match(text, /^wavecast_relay_messages_received_total\{source="websocket"\} 1$/m);
  assert.match(text, /^wavecast_relay_received_bytes_total\{source="http"\} 7$/m);
  assert.match(text, /^wavecast_relay_messages_sent_total 4$/m);
  assert.match(text, /^wavecast_relay_sent_bytes_total 24$/m);
  assert.match(text, /^wavecast_relay_dropped_messages_total 4$/m);
  assert.match(text, /^wavecast_relay_channel_subscribers\{channel="b"\} 2\nwavecast_relay_channel_subscribers\{channel="a"\} 1$/m);
  assert.ok(text.endsWith('\n'));
  for (const line of text.trimEnd().split('\n')) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+\d.eInfNa]+)$/, `malformed line: ${line}`);
  }
});

test('only the busiest channels get a line, busiest first, ties by name', () => {
  const counts = new Map([
    ['x', 1],
    ['y', 5],
    ['z', 5],
    ['w', 2],
  ]);
  assert.deepEqual(
    busiest([...counts.keys()], (c) => counts.get(c)!, 3),
    [
      ['y', 5],
      ['z', 5],
      ['w', 2],
    ],
  );
  assert.deepEqual(
    busiest(['x'], () => 1, 0),
    [],
  );
});

test('label values are escaped', () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});
