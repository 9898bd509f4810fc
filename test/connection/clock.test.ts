// The clock of a connection's times (clock.ts): 32-bit milliseconds that wrap, compared through clockDiff().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockDiff, connectionClock } from '../../src/connection/clock.js';

test('clockDiff is right across the wrap of the 32-bit clock', () => {
  assert.equal(clockDiff(5, 2), 3);
  assert.equal(clockDiff(-2147483648 + 5, 2147483647 - 5), 11);
  assert.equal(clockDiff(2147483647 - 5, -2147483648 + 5), -11);
});

test('connectionClock is a small integer (kept in the field itself) that does not go back', () => {
  const a = connectionClock();
  const b = connectionClock();
  assert.equal(a | 0, a);
  assert.ok(clockDiff(b, a) >= 0);
});
