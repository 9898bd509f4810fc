// The embedded document store (files under --data-dir): what it appends it loads back, compaction
// replaces the log by one update with the same content, a torn last record is cut off, and a data
// directory has one owner.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as Y from 'yjs';
import { FileDocStore } from '../../src/relay/docs/store-file.js';
import { removeTempDirs, tempDir } from './yjs-helpers.js';

after(removeTempDirs);

/** A document, and the updates it made, one per character typed. */
function typed(text: string): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (update: Uint8Array) => updates.push(update));
  for (const char of text) doc.getText('text').insert(doc.getText('text').length, char);
  return { doc, updates };
}

function textOf(updates: Uint8Array[]): string {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getText('text').toString();
}

function docFile(dir: string): string {
  const [file] = readdirSync(join(dir, 'docs'));
  return join(dir, 'docs', file!);
}

test('appended updates load back in order; compaction leaves one update with the same content and a smaller file', async () => {
  const dir = tempDir();
  const store = new FileDocStore(dir);
  assert.deepEqual(await store.load('notes'), []);
  const { doc, updates } = typed('hello, world');
  await Promise.all(updates.map((update) => store.append('notes', update)));
  const loaded = await store.load('notes');
  assert.equal(loaded.length, updates.length);
  assert.equal(textOf(loaded), 'hello, world');
  const before = statSync(docFile(dir)).size;
  await store.compact('notes', Y.encodeStateAsUpdate(doc));
  const compacted = await store.load('notes');
  assert.equal(compacted.length, 1);
  assert.equal(textOf(compacted), 'hello, world');
  assert.ok(statSync(docFile(dir)).size < before, `compacted ${statSync(docFile(dir)).size} bytes < ${before}`);
  // Appends after a compaction go after it.
  doc.on('update', (update: Uint8Array) => void store.append('notes', update));
  doc.getText('text').insert(0, '>> ');
  await store.append('notes', Y.encodeStateAsUpdate(new Y.Doc()));
  assert.equal(textOf(await store.load('notes')), '>> hello, world');
  await store.close();
});

test('a torn last record (the process died mid-write) is cut off at load, and later appends are kept', async () => {
  const dir = tempDir();
  const store = new FileDocStore(dir);
  const warnings: string[] = [];
  const { updates } = typed('abc');
  for (const update of updates) await store.append('d', update);
  await store.close();
  // Half a record: a length and a checksum promising bytes that never came.
  appendFileSync(docFile(dir), Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 9, 9]));
  const reopened = new FileDocStore(dir, { warn: (message) => warnings.push(message) });
  assert.equal(textOf(await reopened.load('d')), 'abc');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /torn or corrupt record/);
  const more = typed('abcd').updates.at(-1)!;
  await reopened.append('d', more);
  assert.equal((await reopened.load('d')).length, 4);
  await reopened.close();
});

test('a data directory has one owner: a second store cannot open documents while the first holds it', async () => {
  const dir = tempDir();
  const first = new FileDocStore(dir);
  await first.load('a');
  // The lock holds this process's pid; a store in another process sees a live owner. Here, the same
  // pid counts as its own, so the check is shown with a lock naming another live process: our parent.
  await first.close();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'wavecast.lock'), `${process.ppid}\n`);
  const second = new FileDocStore(dir);
  await assert.rejects(second.load('a'), /in use by another relay \(pid \d+\)/);
  // Its owner gone (a pid that is not running), the lock is taken over.
  writeFileSync(join(dir, 'wavecast.lock'), '999999999\n');
  assert.deepEqual(await second.load('a'), []);
  await second.close();
});
