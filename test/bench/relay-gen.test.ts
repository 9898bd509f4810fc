// The relay scenarios' load generator against the real servers, in miniature: `wavecast serve` with
// wavecast.v1 and with plain clients, and Socket.IO, each with 20 clients in 4 rooms. The generator
// checks before it measures that each room's first message reaches every client of that room and no
// other, then runs briefly; every message it counts came back in its own room, stamped with its send time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayProtocol } from '../../bench/lib/types.js';
import { runGenerator } from './helpers.js';

const cases: { name: string; script: string; protocol: RelayProtocol }[] = [
  { name: 'wavecast serve, wavecast.v1 clients', script: 'relay.js', protocol: 'v1' },
  { name: 'wavecast serve, plain clients', script: 'relay.js', protocol: 'plain' },
  { name: 'Socket.IO', script: 'socketio.js', protocol: 'socketio' },
];

for (const { name, script, protocol } of cases) {
  for (const rate of [0, 50]) {
    test(`relay generator, ${name}, ${rate > 0 ? `${rate} messages/s per sender` : '2 in flight per sender'}: rooms checked, messages timed`, {
      timeout: 60_000,
    }, async () => {
      const run = await runGenerator(script, [], { kind: 'relay', rooms: 4, protocol, rate, inflight: rate > 0 ? 0 : 2 });
      assert.equal(run.connections, 20);
      assert.match(
        run.verified,
        new RegExp(`20 clients in 4 rooms \\(${protocol}\\); each room's first message reached every client of the room and no other`),
      );
      const { result } = run;
      assert.ok(result.messages > 0, 'messages delivered in the window');
      assert.ok(result.sent > 0, 'messages sent in the window');
      assert.equal(result.percentiles?.count, result.messages, 'every delivery in the window was timed');
      assert.ok(result.percentiles!.p50 > 0 && result.percentiles!.p50 <= result.percentiles!.p99);
      assert.equal(result.lost, 0, 'no connection was closed');
    });
  }
}
