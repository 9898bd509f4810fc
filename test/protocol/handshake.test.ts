import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptKey, checkUpgradeRequest, checkUpgradeResponse, formatExtensions, generateKey, parseExtensions, parseTokenList } from '../../src/protocol/handshake.js';

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

test('Upgrade and Connection are case-insensitive token lists', () => {
  const result = checkUpgradeRequest({ ...good, headers: { ...good.headers, upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' } });
  assert.ok(result.ok);
});

function status(change: { method?: string; httpVersion?: string; headers?: Record<string, string | undefined> }): number {
  const result = checkUpgradeRequest({ ...good, ...change, headers: { ...good.headers, ...change.headers } });
  assert.equal(result.ok, false);
  return (result as { status: number }).status;
}

test('refusals carry the right status', () => {
  assert.equal(status({ method: 'POST' }), 405);
  assert.equal(status({ httpVersion: '1.0' }), 400);
  assert.equal(status({ headers: { upgrade: 'h2c' } }), 400);
  assert.equal(status({ headers: { connection: 'keep-alive' } }), 400);
  assert.equal(status({ headers: { 'sec-websocket-key': 'short' } }), 400);
  assert.equal(status({ headers: { 'sec-websocket-key': undefined } }), 400);
  assert.equal(status({ headers: { 'sec-websocket-key': Buffer.alloc(15).toString('base64') } }), 400);
  assert.equal(status({ headers: { 'sec-websocket-protocol': 'chat, chat' } }), 400);
});

test('an unsupported version gets 426 naming version 13', () => {
  const result = checkUpgradeRequest({ ...good, headers: { ...good.headers, 'sec-websocket-version': '8' } });
  assert.equal(result.ok, false);
  assert.equal((result as { status: number }).status, 426);
  assert.equal((result as { headers: Record<string, string> }).headers['Sec-WebSocket-Version'], '13');
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
  assert.equal(formatExtensions(offers!), 'permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10, x-foo');
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
