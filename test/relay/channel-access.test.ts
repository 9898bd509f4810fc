// Channel names and tokens from a plain upgrade's request (relay/access.ts): the path as the channel, bad names
// refused, where the token is read from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import { Access, ownOrigins } from '../../src/relay/access.js';
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
  assert.deepEqual(checkChannel('\ud800'), {
    ok: false,
    message: 'Channel names must be valid Unicode text (this one has a lone UTF-16 surrogate)',
  });
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

test("origins: the list, no Origin header, and the relay's own origins pass; others get 403, a page whose Origin matches the Host among them (DNS rebinding)", () => {
  const access = new Access({ origins: ['https://chat.example.com'] });
  access.allowOwnOrigins(ownOrigins('http', 'localhost', 3000));
  assert.equal(access.checkOrigin(request('/x', { origin: 'https://chat.example.com', host: 'relay:3000' })), null);
  assert.equal(access.checkOrigin(request('/x', { host: 'relay:3000' })), null);
  for (const own of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000', 'HTTP://LOCALHOST:3000/']) {
    assert.equal(access.checkOrigin(request('/x', { origin: own, host: 'localhost:3000' })), null, own);
  }
  // A hostile page at rebind.evil.example whose name now resolves to the relay: its Origin and the Host
  // its requests carry agree, and that no longer lets it in.
  const rebound = access.checkOrigin(request('/x', { origin: 'http://rebind.evil.example:3000', host: 'rebind.evil.example:3000' }));
  assert.equal(rebound?.status, 403);
  assert.match(rebound!.body, /Origin http:\/\/rebind.evil.example:3000 is not allowed/);
  const refused = access.checkOrigin(request('/x', { origin: 'https://evil.example', host: 'relay:3000' }));
  assert.equal(refused?.status, 403);
  assert.match(refused!.body, /Origin https:\/\/evil.example is not allowed/);
  // Another port of the same host is another origin.
  assert.equal(access.checkOrigin(request('/x', { origin: 'http://localhost:8080', host: 'localhost:3000' }))?.status, 403);
  assert.equal(new Access({ origins: [] }).checkOrigin(request('/x', { origin: 'https://evil.example' })), null);
});

test("the relay's own origins: its host and port, every loopback name, every address when on all of them, its public URLs", () => {
  assert.deepEqual(ownOrigins('http', 'localhost', 3000).sort(), ['http://127.0.0.1:3000', 'http://[::1]:3000', 'http://localhost:3000']);
  assert.deepEqual(ownOrigins('https', '127.0.0.1', 443).sort(), ['https://127.0.0.1', 'https://[::1]', 'https://localhost']);
  assert.deepEqual(ownOrigins('http', 'chat.internal', 80), ['http://chat.internal']);
  assert.deepEqual(ownOrigins('http', '[2001:db8::5]', 3000), ['http://[2001:db8::5]:3000']);
  const all = ownOrigins('http', '0.0.0.0', 3000);
  for (const address of Object.values(networkInterfaces()).flat()) {
    if (address !== undefined && address.family === 'IPv4') assert.ok(all.includes(`http://${address.address}:3000`), address.address);
  }
  assert.ok(all.includes('http://localhost:3000'));
  assert.deepEqual(
    ownOrigins('http', 'localhost', 3000, ['https://chat.example.com/app', 'http://10.0.0.5:8080/']).filter(
      (o) => !/localhost|127\.0\.0\.1|::1/.test(o),
    ),
    ['https://chat.example.com', 'http://10.0.0.5:8080'],
  );
});
