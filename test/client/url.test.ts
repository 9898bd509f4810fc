// What the client accepts and refuses before any socket is opened: URLs, subprotocols, options, and
// the request headers (including what a redirect may carry on). Pure functions, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readOptions } from '../../src/client/options.js';
import { handshakeHeaders, mayCarryCredentials, withoutCredentials } from '../../src/client/request.js';
import { parseProtocols, parseTarget, serverNameFor } from '../../src/client/url.js';

test('ws: and wss: URLs give host, port, path and query', () => {
  const plain = parseTarget('ws://example.com/chat?room=1');
  assert.equal(plain.url.href, 'ws://example.com/chat?room=1');
  assert.deepEqual([plain.secure, plain.host, plain.port, plain.path], [false, 'example.com', 80, '/chat?room=1']);
  const secure = parseTarget('wss://example.com:8443');
  assert.deepEqual([secure.secure, secure.port, secure.path], [true, 8443, '/']);
  const ipv6 = parseTarget('ws://[::1]:3000/');
  assert.equal(ipv6.host, '::1');
  assert.equal(parseTarget(new URL('ws://h/x')).path, '/x');
});

test('http: and https: URLs are treated as ws: and wss:', () => {
  assert.equal(parseTarget('http://example.com/a').url.href, 'ws://example.com/a');
  const secure = parseTarget('https://example.com/a');
  assert.equal(secure.url.href, 'wss://example.com/a');
  assert.equal(secure.secure, true);
  assert.equal(secure.port, 443);
});

test('ws+unix: URLs name a socket path and a request path', () => {
  const target = parseTarget('ws+unix:/tmp/app.sock:/chat?x=1');
  assert.equal(target.socketPath, '/tmp/app.sock');
  assert.equal(target.path, '/chat?x=1');
  assert.equal(target.secure, false);
  assert.equal(parseTarget('ws+unix:///tmp/app.sock').path, '/');
  assert.throws(() => parseTarget('ws+unix:'), { name: 'SyntaxError', message: /needs a socket path/ });
});

test('bad URLs, other schemes and fragments throw a SyntaxError naming the problem', () => {
  assert.throws(() => parseTarget('not a url'), { name: 'SyntaxError', message: 'Invalid URL: not a url' });
  assert.throws(() => parseTarget('ftp://example.com'), { name: 'SyntaxError', message: /the scheme must be one of "ws:", "wss:"/ });
  assert.throws(() => parseTarget('ws://example.com/#top'), { name: 'SyntaxError', message: /fragment/ });
  assert.throws(() => parseTarget('ws://example.com/#'), { name: 'SyntaxError', message: /fragment/ });
});

test('credentials in the URL are percent-decoded for Basic authentication', () => {
  assert.equal(parseTarget('ws://al%20ice:p%40ss@example.com/').auth, 'al ice:p@ss');
  assert.equal(parseTarget('ws://example.com/').auth, undefined);
});

test('TLS server names are sent for host names only, not for IP addresses', () => {
  assert.equal(serverNameFor('example.com'), 'example.com');
  assert.equal(serverNameFor('127.0.0.1'), '');
  assert.equal(serverNameFor('::1'), '');
});

test('subprotocols: a string or an array of distinct tokens', () => {
  assert.deepEqual(parseProtocols(undefined), []);
  assert.deepEqual(parseProtocols('chat'), ['chat']);
  assert.deepEqual(parseProtocols(['chat', 'v2.chat']), ['chat', 'v2.chat']);
  assert.throws(() => parseProtocols(['chat', 'chat']), { name: 'SyntaxError', message: 'Duplicate subprotocol "chat"' });
  assert.throws(() => parseProtocols(['a b']), { name: 'SyntaxError', message: /Invalid subprotocol "a b"/ });
  assert.throws(() => parseProtocols(['']), { name: 'SyntaxError' });
  assert.throws(() => parseProtocols([42]), { name: 'SyntaxError' });
  assert.throws(() => parseProtocols(42), { name: 'SyntaxError' });
});

test('options have ws defaults: 100 MiB maxPayload, 10 redirects, no redirects followed', () => {
  const settings = readOptions(undefined);
  assert.equal(settings.maxPayload, 100 * 1024 * 1024);
  assert.equal(settings.maxRedirects, 10);
  assert.equal(settings.followRedirects, false);
  assert.equal(settings.protocolVersion, 13);
  const custom = readOptions({ family: 4, ca: 'x', followRedirects: true, host: 'ignored' });
  assert.deepEqual(custom.passThrough, { family: 4, ca: 'x' });
});

test('handshake headers: the handshake own headers win over the user, whatever their case', () => {
  const headers = handshakeHeaders({
    userHeaders: { upgrade: 'h2c', 'X-Token': 'abc', 'sec-websocket-key': 'forged' },
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocolVersion: 13,
    protocols: ['chat', 'superchat'],
    extensions: undefined,
    origin: 'https://app.example',
    auth: 'user:pass',
  });
  assert.deepEqual(headers, {
    'X-Token': 'abc',
    Origin: 'https://app.example',
    Authorization: `Basic ${Buffer.from('user:pass').toString('base64')}`,
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Protocol': 'chat, superchat',
  });
  const v8 = handshakeHeaders({ userHeaders: { authorization: 'Bearer t' }, key: 'k', protocolVersion: 8, protocols: [], extensions: undefined, origin: 'o', auth: 'u:p' });
  assert.equal(v8['Sec-WebSocket-Origin'], 'o');
  assert.equal(v8['Sec-WebSocket-Version'], '8');
  assert.equal(v8.authorization, 'Bearer t');
  assert.equal(v8.Authorization, undefined);
});

test('credentials follow a redirect only to the same host, and never from wss: to ws:', () => {
  const from = parseTarget('wss://a.example/');
  assert.equal(mayCarryCredentials(from, parseTarget('wss://a.example/other')), true);
  assert.equal(mayCarryCredentials(from, parseTarget('wss://A.EXAMPLE:443/other')), true);
  assert.equal(mayCarryCredentials(from, parseTarget('wss://b.example/')), false);
  assert.equal(mayCarryCredentials(from, parseTarget('wss://a.example:8443/')), false);
  assert.equal(mayCarryCredentials(from, parseTarget('ws://a.example:443/')), false);
  assert.equal(mayCarryCredentials(parseTarget('ws://a.example/'), parseTarget('wss://a.example:80/')), true);
  assert.equal(mayCarryCredentials(parseTarget('ws+unix:/a.sock'), parseTarget('ws+unix:/b.sock')), false);
  assert.deepEqual(withoutCredentials({ Authorization: 'x', COOKIE: 'y', host: 'h', 'X-Keep': 'z' }), { 'X-Keep': 'z' });
});
