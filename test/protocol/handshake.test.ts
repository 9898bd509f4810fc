// The opening handshake (protocol/handshake.ts): the accept key, request and response checks as ws answers them, token
// lists and extension headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptKey,
  checkUpgradeRequest,
  checkUpgradeResponse,
  formatExtensions,
  generateKey,
  parseExtensions,
  parseTokenList,
} from '../../src/protocol/handshake.js';

const good = {
  method: 'GET',
  httpVersion: '1.1',
  headers: {
    host: 'example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  },
};

test('the accept value of RFC 6455 section 1.3', () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('a valid request passes', () => {
  const result = checkUpgradeRequest(good);
  assert.ok(result.ok);
  assert.equal(result.key, 'dGhlIHNhbXBsZSBub25jZQ==');
});

test('as in ws, Upgrade is "websocket" in any case, and neither Connection nor the HTTP version is looked at here', () => {
  const request = { ...good, httpVersion: '1.0', headers: { ...good.headers, upgrade: 'WebSocket', connection: 'keep-alive' } };
  const result = checkUpgradeRequest(request);
  assert.ok(result.ok);
});

function refusal(change: { method?: string; headers?: Record<string, string | undefined> }): [number, string] {
  const result = checkUpgradeRequest({ ...good, ...change, headers: { ...good.headers, ...change.headers } });
  assert.equal(result.ok, false);
  return [(result as { status: number }).status, (result as { message: string }).message];
}

test('refusals carry the status and message of ws, checked in its order', () => {
  assert.deepEqual(refusal({ method: 'POST', headers: { upgrade: 'h2c' } }), [405, 'Invalid HTTP method']);
  assert.deepEqual(refusal({ headers: { upgrade: 'h2c', 'sec-websocket-key': 'short' } }), [400, 'Invalid Upgrade header']);
  assert.deepEqual(refusal({ headers: { upgrade: 'websocket, h2c' } }), [400, 'Invalid Upgrade header']);
  for (const key of ['short', undefined, Buffer.alloc(15).toString('base64')]) {
    assert.deepEqual(refusal({ headers: { 'sec-websocket-key': key, 'sec-websocket-version': undefined } }), [
      400,
      'Missing or invalid Sec-WebSocket-Key header',
    ]);
  }
  assert.deepEqual(refusal({ headers: { 'sec-websocket-protocol': 'chat, chat' } }), [400, 'Invalid Sec-WebSocket-Protocol header']);
});

test('versions 13 and 8 are accepted; a missing or other version gets 400 naming both', () => {
  const v8 = checkUpgradeRequest({ ...good, headers: { ...good.headers, 'sec-websocket-version': '8' } });
  assert.ok(v8.ok);
  assert.equal(v8.version, 8);
  for (const version of [undefined, '7', '14', 'x']) {
    const result = checkUpgradeRequest({ ...good, headers: { ...good.headers, 'sec-websocket-version': version } });
    assert.equal(result.ok, false);
    assert.deepEqual(result, {
      ok: false,
      status: 400,
      message: 'Missing or invalid Sec-WebSocket-Version header',
      headers: { 'Sec-WebSocket-Version': '13, 8' },
    });
  }
});

test('subprotocol lists', () => {
  assert.deepEqual(parseTokenList('chat, superchat'), ['chat', 'superchat']);
  assert.equal(parseTokenList('a b'), null);
  assert.equal(parseTokenList('chat,chat'), null);
});

test('generated keys are valid and accepted responses are checked', () => {
  const key = generateKey();
  assert.ok(checkUpgradeRequest({ ...good, headers: { ...good.headers, 'sec-websocket-key': key } }).ok);
  const headers = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': acceptKey(key) };
  assert.ok(checkUpgradeResponse({ statusCode: 101, headers }, key, []).ok);
  assert.equal(checkUpgradeResponse({ statusCode: 101, headers: { ...headers, 'sec-websocket-accept': 'nope' } }, key, []).ok, false);
  assert.equal(checkUpgradeResponse({ statusCode: 200, headers }, key, []).ok, false);
  assert.equal(checkUpgradeResponse({ statusCode: 101, headers: { ...headers, 'sec-websocket-protocol': 'x' } }, key, ['y']).ok, false);
});

test('extension headers', () => {
  const offers = parseExtensions('permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits="10" , x-foo');
  assert.deepEqual(offers, [
    { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
    { name: 'x-foo', params: [] },
  ]);
  assert.equal(
    formatExtensions(offers!),
    'permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10, x-foo',
  );
  assert.equal(parseExtensions('permessage-deflate; ='), null);
  assert.equal(parseExtensions('a b'), null);
  assert.equal(parseExtensions('a; b="unterminated'), null);
});

test('a subprotocol list as large as a request head allows: every token kept in order, a repeat at the far end found', () => {
  const tokens = Array.from({ length: 3000 }, (_, i) => `p${i.toString(36)}`);
  assert.deepEqual(parseTokenList(tokens.join(', ')), tokens);
  assert.equal(parseTokenList([...tokens, tokens[0]].join(',')), null);
  assert.equal(parseTokenList([...tokens, 'not a token'].join(',')), null);
});
