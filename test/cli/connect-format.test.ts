// What `wavecast connect` prints and how it reads -H, as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { EventEmitter } from 'node:events';
import {
  describeBinary,
  describeClose,
  formatPiped,
  formatTerminal,
  isNormalClose,
  maskPasswords,
  normaliseUrl,
  parseHeaders,
  visible,
} from '../../src/cli/connect-format.js';
import { readSlash } from '../../src/cli/slash.js';
import { runConnect } from '../../src/cli/connect.js';
import { recordingServer, within } from './helpers.js';

test('binary messages: every byte in hex when piped, the first 32 on a terminal', () => {
  assert.equal(describeBinary(Buffer.alloc(0)), '<binary 0 bytes>');
  assert.equal(describeBinary(Buffer.from([0xab])), '<binary 1 byte: ab>');
  const big = Buffer.alloc(40, 0x11);
  assert.equal(formatPiped(big, true), `<binary 40 bytes: ${'11'.repeat(40)}>\n`);
  assert.equal(formatTerminal(big, true, false), `< <binary 40 bytes: ${'11'.repeat(32)}…>\n`);
});

test('text: as it is when piped; marked, escaped and indented on a terminal', () => {
  const text = Buffer.from('a\x1b]0;title\x07b\r\nnext\tline');
  assert.equal(formatPiped(text, false), 'a\x1b]0;title\x07b\r\nnext\tline\n');
  assert.equal(formatTerminal(text, false, false), '< a\\x1b]0;title\\x07b\\r\n  next\tline\n');
  assert.equal(formatTerminal(Buffer.from('hi'), false, true), '\x1b[36m< \x1b[39mhi\n');
  assert.equal(visible('\u009b31m'), '\\x9b31m');
});

test('close codes in words; 1000, 1001 and 1005 are the normal ones', () => {
  assert.equal(describeClose(1000, ''), '1000 (normal closure)');
  assert.equal(describeClose(1011, 'oops'), '1011 (internal error) "oops"');
  assert.equal(describeClose(4000, 'app'), '4000 "app"');
  assert.deepEqual([1000, 1001, 1005, 1002, 1006, 1011, 4000].map(isNormalClose), [true, true, true, false, false, false, false]);
});

test('-H values: "Name: value", repeated names kept, malformed ones refused', () => {
  assert.deepEqual(parseHeaders(['X-A: 1', 'x-a:2', 'Authorization:  Bearer t ']), {
    ok: true,
    headers: { 'x-a': ['1', '2'], authorization: 'Bearer t' },
  });
  assert.equal(parseHeaders(['X-Empty:']).ok, true);
  for (const bad of ['nocolon', ': value', 'bad name: x', 'X: a\nb', 'Upgrade: h2c']) assert.equal(parseHeaders([bad]).ok, false, bad);
});

test('passwords in URLs are masked wherever they appear in a line', () => {
  assert.equal(maskPasswords('connected to ws://ada:s3cret@127.0.0.1:80/x'), 'connected to ws://ada:***@127.0.0.1:80/x');
  assert.equal(maskPasswords('from wss://u:p@ss@h/ to https://v:w@i/'), 'from wss://u:***@h/ to https://v:***@i/');
  assert.equal(maskPasswords('ws://ada@host/ and ws://127.0.0.1:80/a@b stay'), 'ws://ada@host/ and ws://127.0.0.1:80/a@b stay');
});

test('--slash lines: commands, the // escape, and mistakes', () => {
  assert.deepEqual(readSlash('hello'), { kind: 'send', text: 'hello' });
  assert.deepEqual(readSlash('//etc'), { kind: 'send', text: '/etc' });
  assert.deepEqual(readSlash('/ping'), { kind: 'ping', data: '' });
  assert.deepEqual(readSlash('/pong some data'), { kind: 'pong', data: 'some data' });
  assert.deepEqual(readSlash('/close'), { kind: 'close', code: 1000, reason: '' });
  assert.deepEqual(readSlash('/close 4000 going  away'), { kind: 'close', code: 4000, reason: 'going  away' });
  assert.equal(readSlash('/close soon').kind, 'error');
  assert.match((readSlash('/quit') as { message: string }).message, /^unknown command \/quit/);
});

test('URLs without a scheme get ws://', () => {
  assert.equal(normaliseUrl('localhost:3000/chat'), 'ws://localhost:3000/chat');
  assert.equal(normaliseUrl('wss://example.com/'), 'wss://example.com/');
  assert.equal(normaliseUrl('ws+unix:/tmp/s.sock'), 'ws+unix:/tmp/s.sock');
});

test('runConnect with injected streams: SIGINT while piped input is open closes with 1000, status 0', async () => {
  const server = await recordingServer((socket) => socket.send('hello'));
  try {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const signals = new EventEmitter();
    let out = '';
    stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out === 'hello\n') signals.emit('SIGINT');
    });
    const status = await within(runConnect([server.url], { stdin, stdout, stderr, signals, env: {} }), 'runConnect to finish');
    assert.equal(status, 0);
    assert.equal(await server.closed, 1000);
    assert.equal(signals.listenerCount('SIGINT'), 0, 'its signal listeners are removed');
  } finally {
    await server.stop();
  }
});
