// The relay's log lines (relay/log.ts), as text and as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/relay/log.js';

const at = Date.UTC(2030, 0, 2, 3, 4, 5);

test('text lines: time, level, message on one line, then key=value', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (line) => lines.push(line), now: () => at });
  log.debug('hidden');
  log.info('relay started', { url: 'ws://127.0.0.1:3000', token: 'none', skipped: undefined });
  log.warn('closed\nclient', { reason: 'two words' });
  assert.deepEqual(lines, [
    '2030-01-02T03:04:05.000Z info  relay started url=ws://127.0.0.1:3000 token=none\n',
    '2030-01-02T03:04:05.000Z warn  closed client reason="two words"\n',
  ]);
  assert.equal(log.enabled('debug'), false);
  assert.equal(log.enabled('error'), true);
});

test('JSON lines: one object per event with its fields', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(line), now: () => at });
  log.debug('client joined', { channel: 'lobby', subscribers: 2, msg: 'not overriding' });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith('\n'));
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: '2030-01-02T03:04:05.000Z',
    level: 'debug',
    msg: 'client joined',
    channel: 'lobby',
    subscribers: 2,
  });
});
