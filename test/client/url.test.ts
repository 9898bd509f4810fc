// What the client accepts and refuses before any socket is opened: URLs, subprotocols, options, and
// the request headers (including what a redirect may carry on). Pure functions, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readOptions } from '../../src/client/options.js';
import { dropsCredentials, handshakeHeaders, lowerCaseNames, redirectHeaders } from '../../src/client/request.js';
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
  assert.throws(() => parseTarget('ws+unix:'), { name: 'SyntaxError', message: "The URL's pathname is empty" });
});

test('bad URLs, other schemes and fragments throw a SyntaxError with the message of ws', () => {
  assert.throws(() => parseTarget('not a url'), { name: 'SyntaxError', message: 'Invalid URL: not a url' });
  assert.throws(() => parseTarget('ftp://example.com'), {
    name: 'SyntaxError',
    message: 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"',
  });
  assert.throws(() => parseTarget('ws://example.com/#top'), { name: 'SyntaxError', message: 'The URL contains a fragment identifier' });
  // An empty fragment too, as browsers refuse it (ws lets it through).
  assert.throws(() => parseTarget('ws://example.com/#'), { name: 'SyntaxError', message: 'The URL contains a fragment identifier' });
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
  const refused = { name: 'SyntaxError', message: 'An invalid or duplicated subprotocol was specified' };
  for (const bad of [['chat', 'chat'], ['a b'], [''], [42], 42, null])
    assert.throws(() => parseProtocols(bad), refused, JSON.stringify(bad));
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
    'Sec-WebSocket-Protocol': 'chat,superchat',
  });
  const v8 = handshakeHeaders({
    userHeaders: { authorization: 'Bearer t' },
    key: 'k',
    protocolVersion: 8,
    protocols: [],
    extensions: undefined,
    origin: 'o',
    auth: 'u:p',
  });
  assert.equal(v8['Sec-WebSocket-Origin'], 'o');
  assert.equal(v8['Sec-WebSocket-Version'], '8');
  assert.equal(v8.authorization, 'Bearer t');
  assert.equal(v8.Authorization, undefined);
});

test('as in ws, credentials follow a redirect only to the same URL host, and never from wss: to ws:', () => {
  const from = parseTarget('wss://a.example/');
  assert.equal(dropsCredentials(from, parseTarget('wss://a.example/other')), false);
  assert.equal(dropsCredentials(from, parseTarget('wss://A.EXAMPLE:443/other')), false);
  assert.equal(dropsCredentials(from, parseTarget('wss://b.example/')), true);
  assert.equal(dropsCredentials(from, parseTarget('wss://a.example:8443/')), true);
  assert.equal(dropsCredentials(from, parseTarget('ws://a.example/')), true, 'down to ws:');
  assert.equal(dropsCredentials(parseTarget('ws://a.example/'), parseTarget('wss://a.example/')), false, 'the same host, up to wss:');
  assert.equal(dropsCredentials(parseTarget('ws://a.example/'), parseTarget('wss://a.example:80/')), true, 'a:80 is not the host a');
  assert.equal(dropsCredentials(parseTarget('ws+unix:/a.sock'), parseTarget('ws+unix:/b.sock')), true);
  const carried = lowerCaseNames({ Authorization: 'x', COOKIE: 'y', Host: 'h', 'X-Keep': 'z' });
  assert.deepEqual(carried, { authorization: 'x', cookie: 'y', host: 'h', 'x-keep': 'z' });
  assert.deepEqual(redirectHeaders(carried, from, parseTarget('wss://b.example/')), { 'x-keep': 'z' });
  assert.deepEqual(
    redirectHeaders(carried, from, parseTarget('ws://a.example/')),
    { host: 'h', 'x-keep': 'z' },
    'the same host keeps Host',
  );
  assert.deepEqual(redirectHeaders(carried, from, parseTarget('wss://a.example/x')), carried);
});
