import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Access } from '../../src/relay/access.js';
import { channelOfTarget, checkChannel, decodeChannel, MAX_CHANNEL_BYTES } from '../../src/relay/channel.js';

test('any path is a channel; the query is ignored; names are percent-decoded', () => {
  assert.deepEqual(channelOfTarget('/lobby'), { ok: true, channel: 'lobby' });
  assert.deepEqual(channelOfTarget('/lobby?token=x'), { ok: true, channel: 'lobby' });
  assert.deepEqual(channelOfTarget('/a/b'), { ok: true, channel: 'a/b' });
  assert.deepEqual(channelOfTarget('/'), { ok: true, channel: '' });
  assert.deepEqual(channelOfTarget('/caf%C3%A9%20au%20lait'), { ok: true, channel: 'café au lait' });
  assert.deepEqual(decodeChannel('a%2Fb'), { ok: true, channel: 'a/b' });
});

test('bad channel names are refused with a reason', () => {
  assert.match((channelOfTarget('/%E0%A4%A') as { message: string }).message, /not valid percent-encoding/);
  assert.match((channelOfTarget('/a%0Ab') as { message: string }).message, /control characters/);
  assert.match((channelOfTarget('/' + 'x'.repeat(MAX_CHANNEL_BYTES + 1)) as { message: string }).message, /at most 256 bytes/);
  assert.match((channelOfTarget('http://evil/x') as { message: string }).message, /must be a path/);
  // A surrogate encoded as UTF-8 is not valid UTF-8, and a lone one from JSON is not valid Unicode.
  assert.match((channelOfTarget('/%ED%A0%80') as { message: string }).message, /not valid percent-encoding/);
  assert.deepEqual(checkChannel('\ud800'), { ok: false, message: 'Channel names must be valid Unicode text (this one has a lone UTF-16 surrogate)' });
  assert.deepEqual(checkChannel('\ud83c\udf89'), { ok: true, channel: '\ud83c\udf89' });
});

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}

test('the token is read from Authorization: Bearer, or from ?token= where allowed', () => {
  const access = new Access({ token: 's3cret' });
  assert.equal(access.checkToken(request('/x', { authorization: 'Bearer s3cret' }), false), null);
  assert.equal(access.checkToken(request('/x', { authorization: 'bearer  s3cret ' }), false), null);
  assert.equal(access.checkToken(request('/x?token=s3cret'), true), null);
  const missing = access.checkToken(request('/x?token=s3cret'), false);
  assert.equal(missing?.status, 401);
  assert.match(missing!.body, /A token is required/);
  assert.equal(missing!.headers?.['WWW-Authenticate'], 'Bearer realm="wavecast"');
  assert.match(access.checkToken(request('/x', { authorization: 'Bearer nope' }), true)!.body, /not valid/);
  assert.equal(new Access({}).checkToken(request('/x'), true), null);
});

test('origins: the list, no Origin header, and the relay\'s own page pass; others get 403', () => {
  const access = new Access({ origins: ['https://chat.example.com'] });
  assert.equal(access.checkOrigin(request('/x', { origin: 'https://chat.example.com', host: 'relay:3000' })), null);
  assert.equal(access.checkOrigin(request('/x', { host: 'relay:3000' })), null);
  assert.equal(access.checkOrigin(request('/x', { origin: 'http://relay:3000', host: 'relay:3000' })), null);
  const refused = access.checkOrigin(request('/x', { origin: 'https://evil.example', host: 'relay:3000' }));
  assert.equal(refused?.status, 403);
  assert.match(refused!.body, /Origin https:\/\/evil.example is not allowed/);
  assert.equal(new Access({ origins: [] }).checkOrigin(request('/x', { origin: 'https://evil.example' })), null);
});
