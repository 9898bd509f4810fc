// Bugs the relay-http fuzz target found in the HTTP routes, one test each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startRelay, type RelayUnderTest } from '../../fuzz/relay-harness.js';

let r: RelayUnderTest;
before(async () => {
  r = await startRelay({ maxPayload: 2048, historyLimit: 20 });
});
after(() => r.relay.close(1000));

function call(method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: r.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a charset given as a quoted string is the same charset: "us-ascii" and "UTF8" bodies are published as text', async () => {
  for (const type of ['text/plain; charset="us-ascii"', 'text/plain; charset="UTF8"', 'application/json; charset="utf-8"']) {
    const post = await call('POST', '/channels/quoted/messages', { 'Content-Type': type }, 'hi');
    assert.equal(post.status, 200, `${type}: ${post.body}`);
  }
  const history = JSON.parse((await call('GET', '/channels/quoted/messages')).body) as {
    messages: Array<{ data: string; binary?: boolean }>;
  };
  assert.deepEqual(
    history.messages.map((m) => [m.data, m.binary ?? false]),
    [
      ['hi', false],
      ['hi', false],
      ['hi', false],
    ],
  );
  assert.equal((await call('POST', '/channels/quoted/messages', { 'Content-Type': 'text/plain; charset="latin1"' }, 'hi')).status, 415);
});

test('GET ?since= takes every sequence number wavecast.v1 takes (any safe integer), and no larger', async () => {
  await call('POST', '/channels/far/messages', { 'Content-Type': 'text/plain' }, 'one');
  const far = await call('GET', '/channels/far/messages?since=9007199254740991');
  assert.equal(far.status, 200, far.body);
  assert.equal((JSON.parse(far.body) as { reset?: boolean }).reset, true);
  assert.equal((await call('GET', '/channels/far/messages?since=1000000000000000')).status, 200);
  assert.equal((await call('GET', '/channels/far/messages?since=9007199254740992')).status, 400);
});
