// The end of an event-loop turn (turn.ts): every connection corked in a turn is told once when it ends, and
// the turn number moves on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { atEndOfTurn, currentTurn } from '../../src/connection/turn.js';

test('members corked in a turn are told at its end, in order, once each; the next turn has a new number', async () => {
  const told: string[] = [];
  const turn = currentTurn();
  atEndOfTurn({ _endOfTurn: () => told.push('a') });
  atEndOfTurn({ _endOfTurn: () => told.push('b') });
  assert.equal(currentTurn(), turn);
  assert.deepEqual(told, []);
  await nextTurn();
  await nextTurn();
  assert.deepEqual(told, ['a', 'b']);
  assert.notEqual(currentTurn(), turn);
});

test('a member corked while the turn ends (from its _endOfTurn) is told too, after it', async () => {
  const told: string[] = [];
  atEndOfTurn({
    _endOfTurn: () => {
      told.push('first');
      atEndOfTurn({ _endOfTurn: () => told.push('second') });
    },
  });
  await nextTurn();
  await nextTurn();
  await nextTurn();
  // Not lost: the list being told is not the one it was added to.
  assert.deepEqual(told, ['first', 'second']);
});
