// Collaborative documents' permissions and bounds, against the real `wavecast serve`: a read-only
// editor's changes are refused, not merged; every bound has its close code or HTTP status and a reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { once } from '../helpers/net.js';
import { closed, connect, http, killAll, record, refusedUpgrade, startRelay, WsClient } from './relay-process.js';
import { agree, destroy, destroyAll, editor, removeTempDirs, tempDir, readMessage, syncMessage, textUpdate, until } from './yjs-helpers.js';
import * as decoding from 'lib0/decoding';

after(killAll);
after(destroyAll);

after(removeTempDirs);

const octets = { 'Content-Type': 'application/octet-stream' };

test('a read-only document: editors get its content, their changes are refused (not merged, not stored) and they are told so', async () => {
  const dir = tempDir();
  let relay = await startRelay(['--data-dir', dir]);
  const author = await editor(relay.url, 'handbook/intro');
  author.text.insert(0, 'Welcome aboard.');
  destroy(author);
  await relay.stop();

  relay = await startRelay(['--data-dir', dir, '--docs-readonly', 'handbook/*']);
  try {
    const reader = await editor(relay.url, 'handbook/intro');
    const other = await editor(relay.url, 'handbook/intro');
    assert.equal(reader.text.toString(), 'Welcome aboard.');
    // A raw client shows what the relay says: the permission-denied auth message, at once.
    // Recording from before the opening: the relay speaks first, in the same packets as its 101.
    const raw = new WsClient(`${relay.url}/docs/handbook%2Fintro`);
    const got = record(raw);
    await once(raw, 'open');
    const denied = await got.next((m) => readMessage(m.data).type === 2);
    const parsed = readMessage(denied.data);
    assert.equal(parsed.sub, 0);
    assert.match(decoding.readVarString(parsed.decoder), /read-only/);
    raw.send(syncMessage(2, textUpdate('vandalism ')));

    reader.text.insert(0, 'EDITED ');
    // The other editor, also read-only, edits too: neither sees the other's change.
    other.text.insert(other.text.length, ' (mine)');
    const watcher = await editor(relay.url, 'handbook/intro');
    assert.equal(watcher.text.toString(), 'Welcome aboard.');
    assert.equal(JSON.parse((await http(relay.http, 'GET', '/docs/handbook%2Fintro')).body).types.text, 'Welcome aboard.');
    const post = await http(relay.http, 'POST', '/docs/handbook%2Fintro', { headers: octets, body: Buffer.from(textUpdate('x')) });
    assert.equal(post.status, 403);
    assert.match(post.body, /read-only/);
    // Documents that do not match the pattern are read-write.
    const free = await http(relay.http, 'POST', '/docs/notes', { headers: octets, body: Buffer.from(textUpdate('free')) });
    assert.equal(free.status, 200);
    raw.terminate();
    destroy(reader, other, watcher);
  } finally {
    await relay.stop();
  }
  // Nothing of the refused changes was stored.
  relay = await startRelay(['--data-dir', dir]);
  try {
    const after = await editor(relay.url, 'handbook/intro');
    assert.equal(after.text.toString(), 'Welcome aboard.');
    destroy(after);
  } finally {
    await relay.stop();
  }
});

test('bounds: update size (1009, 413), document size (4413, 413), rate (1008), open documents (503), each with its reason', async () => {
  const relay = await startRelay([
    '--data-dir',
    tempDir(),
    '--doc-max-update',
    '4096',
    '--doc-max-bytes',
    '8192',
    '--doc-rate-limit',
    '5',
    '--doc-rate-burst',
    '10',
    '--docs-max-open',
    '3',
  ]);
  try {
    // A message over --doc-max-update.
    const big = await connect(`${relay.url}/docs/a`);
    big.send(syncMessage(2, textUpdate('x'.repeat(5000))));
    assert.equal((await closed(big)).code, 1009);
    const tooBig = await http(relay.http, 'POST', '/docs/a', { headers: octets, body: Buffer.alloc(5000) });
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body, /4096 bytes/);

    // A document over --doc-max-bytes: the editor whose update would pass it is closed, its update not merged.
    const ada = await editor(relay.url, 'a');
    const bob = await editor(relay.url, 'a');
    ada.text.insert(0, 'y'.repeat(3000));
    await agree([ada, bob], (t) => t.length === 3000);
    ada.text.insert(0, 'y'.repeat(3000));
    await agree([ada, bob], (t) => t.length === 6000);
    const adaClosed = new Promise<{ code: number; reason: string }>((resolve) =>
      ada.provider.once('connection-close', (event: { code: number; reason: string } | null) =>
        resolve({ code: event?.code ?? 0, reason: event?.reason ?? '' }),
      ),
    );
    ada.text.insert(0, 'z'.repeat(3000));
    const { code, reason } = await adaClosed;
    assert.equal(code, 4413);
    assert.match(reason, /size limit of 8192 bytes/);
    const overHttp = await http(relay.http, 'POST', '/docs/a', { headers: octets, body: Buffer.from(textUpdate('z'.repeat(3000))) });
    assert.equal(overHttp.status, 413);
    const stored = JSON.parse((await http(relay.http, 'GET', '/docs/a')).body).types.text as string;
    assert.equal(stored.length, 6000);
    assert.ok(!stored.includes('z'));
    assert.equal(bob.text.toString(), stored);
    destroy(ada);

    // Over the rate: 10 at once are fine (the burst); the 11th at once is not.
    const fast = await connect(`${relay.url}/docs/a`);
    const empty = Y.encodeStateVector(new Y.Doc());
    for (let i = 0; i < 12; i++) fast.send(syncMessage(0, empty));
    const rate = await closed(fast);
    assert.equal(rate.code, 1008);
    assert.match(rate.reason, /Rate limit: over 5 messages a second \(burst 10\)/);

    // --docs-max-open 3: "a" and "b" and "c" open, "d" refused.
    const b = await editor(relay.url, 'b');
    const c = await editor(relay.url, 'c');
    const refused = await refusedUpgrade(`${relay.url}/docs/d`);
    assert.equal(refused.status, 503);
    assert.match(refused.body, /most open documents \(3\)/);
    // One already open still takes editors.
    const more = await editor(relay.url, 'b');
    destroy(bob, b, c, more);
  } finally {
    await relay.stop();
  }
});

test('bad input: a text message (1003), a malformed message or update (1007); a token and a document name are required', async () => {
  const relay = await startRelay(['--data-dir', tempDir(), '--token', 's3cret']);
  try {
    const url = `${relay.url}/docs/x?token=s3cret`;
    const text = await connect(url);
    text.send('hello');
    assert.equal((await closed(text)).code, 1003);
    const unknown = await connect(url);
    unknown.send(Uint8Array.of(9));
    const unknownClose = await closed(unknown);
    assert.deepEqual([unknownClose.code, unknownClose.reason], [1007, 'Not a y-websocket message: unknown message type 9']);
    const garbage = await connect(url);
    garbage.send(syncMessage(2, Uint8Array.of(5, 200, 1, 2, 3, 4, 5, 6)));
    assert.equal((await closed(garbage)).code, 1007);
    const cut = await connect(url);
    cut.send(Uint8Array.of(0, 2, 50, 1));
    assert.equal((await closed(cut)).code, 1007);
    // After all that, the document is whole and usable.
    const ok = await editor(relay.url, 'x', { params: { token: 's3cret' } });
    ok.text.insert(0, 'fine');
    const again = await editor(relay.url, 'x', { params: { token: 's3cret' } });
    await until(again.doc, () => again.text.toString() === 'fine', 'the edit');

    assert.equal((await refusedUpgrade(`${relay.url}/docs/x`)).status, 401);
    const noName = await refusedUpgrade(`${relay.url}/docs/?token=s3cret`);
    assert.deepEqual([noName.status, noName.body], [400, 'Name the document: /docs/<name>']);
    const control = await refusedUpgrade(`${relay.url}/docs/a%01b?token=s3cret`);
    assert.equal(control.status, 400);
    assert.match(control.body, /Document names may not contain control characters/);
    destroy(ok, again);
  } finally {
    await relay.stop();
  }
});
