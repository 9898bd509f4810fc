// The request-head grammar used by the server of `new WebSocketServer({ port })`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headersOf, parseRequestHead } from '../../src/protocol/request-head.js';

const head = (...lines: string[]) => lines.join('\r\n');

test('a request line and its fields are read, names keeping their case in rawHeaders', () => {
  const parsed = parseRequestHead(head('GET /chat?room=1 HTTP/1.1', 'Host: example.com', 'Upgrade:websocket', 'X-Pad:   a b \t'));
  assert.ok(parsed.ok);
  assert.equal(parsed.head.method, 'GET');
  assert.equal(parsed.head.url, '/chat?room=1');
  assert.equal(parsed.head.versionMajor, 1);
  assert.equal(parsed.head.versionMinor, 1);
  assert.deepEqual(parsed.head.rawHeaders, ['Host', 'example.com', 'Upgrade', 'websocket', 'X-Pad', 'a b']);
});

test('malformed heads are refused with a reason', () => {
  const bad: Array<[string, string]> = [
    [head('GET /'), 'no version'],
    [head('GET  / HTTP/1.1'), 'two spaces'],
    [head('GET / HTTP/1.1 '), 'a trailing space'],
    [head('G(T / HTTP/1.1'), 'a method that is not a token'],
    [head('GET / HTTP/11'), 'a bad version'],
    [head('GET / HTTP/1.1', 'NoColon'), 'a field with no colon'],
    [head('GET / HTTP/1.1', ': empty name'), 'an empty field name'],
    [head('GET / HTTP/1.1', 'Bad Name: x'), 'a space in a field name'],
    [head('GET / HTTP/1.1', 'Name : x'), 'a space before the colon'],
    [head('GET / HTTP/1.1', 'A: b', ' folded'), 'obs-fold'],
    [head('GET / HTTP/1.1', 'A: b\nInjected: c'), 'a bare LF'],
    [head('GET / HTTP/1.1', 'A: b\0c'), 'a NUL in a value'],
    [head('GET / HTTP/1.1', 'A: b\rc'), 'a bare CR'],
  ];
  for (const [text, what] of bad) {
    const parsed = parseRequestHead(text);
    assert.equal(parsed.ok, false, what);
    if (!parsed.ok) assert.ok(parsed.message.length > 0, what);
  }
});

test('headers merge as node:http merges them', () => {
  const headers = headersOf([
    'Host',
    'a',
    'HOST',
    'b',
    'Sec-WebSocket-Protocol',
    'chat',
    'sec-websocket-protocol',
    'superchat',
    'Cookie',
    'x=1',
    'cookie',
    'y=2',
    'Set-Cookie',
    'p=1',
    'Set-Cookie',
    'q=2',
    'Constructor',
    'c',
    'toString',
    't',
    '__proto__',
    'polluted',
  ]);
  assert.equal(headers.host, 'a', 'a field that comes once keeps the first');
  assert.equal(headers['sec-websocket-protocol'], 'chat, superchat');
  assert.equal(headers.cookie, 'x=1; y=2');
  assert.deepEqual(headers['set-cookie'], ['p=1', 'q=2']);
  assert.equal(headers.constructor, 'c', 'names of Object methods are fields like any other');
  assert.equal(headers.tostring, 't');
  assert.equal(Object.getPrototypeOf(headers), Object.prototype, '__proto__ does not change the prototype');
});
