// Collaborative documents end to end, against the real `wavecast serve`: y-websocket's provider (as its
// users run it) edits through ws://host/docs/<name>; documents survive restarts of the relay; backends
// read and write them over HTTP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as Y from 'yjs';
import { parseFile } from '../../src/relay/docs/store-file.js';
import { until as pollUntil } from './cluster-setup.js';
import { http, killAll, startRelay } from './relay-process.js';
import { agree, allRead, awarenessHas, destroy, destroyAll, editor, removeTempDirs, tempDir, textUpdate, until } from './yjs-helpers.js';

after(killAll);
after(destroyAll);

after(removeTempDirs);

test("two y-websocket editors typing at once converge, and each sees the other's name (awareness)", async () => {
  const relay = await startRelay(['--data-dir', tempDir()]);
  try {
    const ada = await editor(relay.url, 'notes', { user: 'Ada' });
    const bob = await editor(relay.url, 'notes', { user: 'Bob' });
    // Both type before either hears of the other's change.
    for (let i = 0; i < 20; i++) {
      ada.text.insert(ada.text.length, `a${i} `);
      bob.text.insert(0, `b${i} `);
    }
    const text = await agree([ada, bob], (t) => t.length === 140);
    for (let i = 0; i < 20; i++) assert.ok(text.includes(`a${i} `) && text.includes(`b${i} `), `both editors' words are kept: ${text}`);
    await awarenessHas(ada.provider, (state) => (state.user as { name?: string } | undefined)?.name === 'Bob');
    await awarenessHas(bob.provider, (state) => (state.user as { name?: string } | undefined)?.name === 'Ada');
    // Another document is another room: nothing of "notes" there.
    const other = await editor(relay.url, 'other');
    assert.equal(other.text.toString(), '');
    destroy(ada, bob, other);
  } finally {
    await relay.stop();
  }
});

test('edits made offline on both sides merge when the editor reconnects', async () => {
  const relay = await startRelay(['--data-dir', tempDir()]);
  try {
    const ada = await editor(relay.url, 'plan');
    const bob = await editor(relay.url, 'plan');
    ada.text.insert(0, 'shared start.');
    await allRead([ada, bob], 'shared start.');
    bob.provider.disconnect();
    bob.text.insert(bob.text.length, ' bob offline.');
    ada.text.insert(0, 'ada online. ');
    bob.provider.connect();
    await agree([ada, bob], (t) => t.includes('bob offline') && t.includes('ada online'));
    assert.equal(ada.text.toString(), 'ada online. shared start. bob offline.');
    destroy(ada, bob);
  } finally {
    await relay.stop();
  }
});

test('a relay restart keeps every document: stopped gracefully, or killed right after the relay said an update was stored', async () => {
  const dir = tempDir();
  let relay = await startRelay(['--data-dir', dir]);
  const ada = await editor(relay.url, 'one');
  const bob = await editor(relay.url, 'two/with slash');
  ada.text.insert(0, 'first document');
  bob.text.insert(0, 'second document');
  // The updates go out before the close: the editors leave, each document is stored and unloaded.
  destroy(ada, bob);
  const openDocs = async () => Number(/^wavecast_docs_open (\d+)$/m.exec((await http(relay.http, 'GET', '/metrics')).body)?.[1]);
  await pollUntil('both documents are unloaded', async () => (await openDocs()) === 0);
  // Stored when its last editor left, compacted: one record holding the whole document.
  const file = join(dir, 'docs', `${createHash('sha256').update('one').digest('hex').slice(0, 40)}.ydoc`);
  assert.equal(parseFile(readFileSync(file), 'one').updates.length, 1);
  assert.equal((await relay.stop()).code, 0);

  relay = await startRelay(['--data-dir', dir]);
  const again = await editor(relay.url, 'one');
  const again2 = await editor(relay.url, 'two/with slash');
  assert.equal(again.text.toString(), 'first document');
  assert.equal(again2.text.toString(), 'second document');
  // A backend's update is answered once stored: a kill right after loses nothing.
  const posted = await http(relay.http, 'POST', '/docs/three', {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: Buffer.from(textUpdate('stored before the kill')),
  });
  assert.equal(posted.status, 200, posted.body);
  destroy(again, again2);
  await relay.stop('SIGKILL');

  relay = await startRelay(['--data-dir', dir]);
  try {
    const third = await editor(relay.url, 'three');
    assert.equal(third.text.toString(), 'stored before the kill');
    destroy(third);
  } finally {
    await relay.stop();
  }
});

test('a backend reads a document as JSON, as text and as a Yjs update, and applies an update that every editor gets', async () => {
  const relay = await startRelay(['--data-dir', tempDir(), '--token', 's3cret']);
  const auth = { Authorization: 'Bearer s3cret' };
  try {
    const ada = await editor(relay.url, 'report', { params: { token: 's3cret' } });
    ada.text.insert(0, 'Quarterly report');
    ada.doc.getMap('meta').set('owner', 'Ada');
    ada.doc.getArray('tags').push(['q3', 'draft']);
    // The relay applies a change before it passes it on: once another editor has it, so has the relay.
    const watcher = await editor(relay.url, 'report', { params: { token: 's3cret' } });
    await until(
      watcher.doc,
      () => watcher.doc.getArray('tags').length === 2 && watcher.doc.getMap('meta').size === 1 && watcher.doc.getText('text').length > 0,
      'the watcher to have everything',
    );

    assert.equal((await http(relay.http, 'GET', '/docs/report')).status, 401);
    const json = await http(relay.http, 'GET', '/docs/report', { headers: auth });
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.body), {
      doc: 'report',
      types: { meta: { owner: 'Ada' }, tags: ['q3', 'draft'], text: 'Quarterly report' },
    });
    const text = await http(relay.http, 'GET', '/docs/report?text=text', { headers: auth });
    assert.deepEqual([text.status, text.headers['content-type'], text.body], [200, 'text/plain; charset=utf-8', 'Quarterly report']);
    assert.equal((await http(relay.http, 'GET', '/docs/report?text=nope', { headers: auth })).status, 404);

    const binary = await fetch(`${relay.http}/docs/report?format=update`, { headers: auth });
    const copy = new Y.Doc();
    Y.applyUpdate(copy, new Uint8Array(await binary.arrayBuffer()));
    assert.equal(copy.getText('text').toString(), 'Quarterly report');

    // The backend edits its copy and sends the change.
    const before = Y.encodeStateVector(copy);
    copy.getText('text').insert(0, 'Final ');
    const change = Y.encodeStateAsUpdate(copy, before);
    const posted = await http(relay.http, 'POST', '/docs/report', {
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: Buffer.from(change),
    });
    assert.equal(posted.status, 200, posted.body);
    assert.deepEqual(JSON.parse(posted.body), { doc: 'report', applied: change.length });
    await until(ada.doc, () => ada.text.toString() === 'Final Quarterly report', "the backend's change to reach the editor");

    const notYjs = await http(relay.http, 'POST', '/docs/report', {
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: Buffer.from('not an update at all'),
    });
    assert.equal(notYjs.status, 400, notYjs.body);
    const asText = await http(relay.http, 'POST', '/docs/report', { headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'hello' });
    assert.equal(asText.status, 415);
    assert.equal(ada.text.toString(), 'Final Quarterly report');
    destroy(ada, watcher);
  } finally {
    await relay.stop();
  }
});
