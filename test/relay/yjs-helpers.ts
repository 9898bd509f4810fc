// Helpers for the collaborative documents' tests: y-websocket editors in Node (the provider as its
// users run it, with the `ws` package as its WebSocket), waiting for documents to agree without sleeps
// (every wait is for a document's update event, bounded by a timeout), and raw y-websocket messages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import WsClient from 'ws';

export interface Editor {
  doc: Y.Doc;
  provider: WebsocketProvider;
  text: Y.Text;
}

/** An editor of document `name` on the relay at `url` (ws://host:port), synced (the provider says so). */
export async function editor(url: string, name: string, options: { params?: Record<string, string>; user?: string } = {}): Promise<Editor> {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`${url}/docs`, name, doc, {
    WebSocketPolyfill: WsClient as unknown as typeof WebSocket,
    disableBc: true,
    ...(options.params ? { params: options.params } : {}),
  });
  if (options.user !== undefined) provider.awareness.setLocalStateField('user', { name: options.user });
  const made = { doc, provider, text: doc.getText('text') };
  open.add(made);
  await synced(provider);
  return made;
}

const open = new Set<Editor>();

/** Destroys every editor still open (call from after(), so that a failed test leaves nothing running). */
export function destroyAll(): void {
  destroy(...open);
}

/** Resolves once the provider has synced with the relay (at once if it has). */
export function synced(provider: WebsocketProvider, timeoutMs = 5_000): Promise<void> {
  if (provider.synced) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not synced within ${timeoutMs} ms`)), timeoutMs);
    const onSync = (state: boolean) => {
      if (!state) return;
      clearTimeout(timer);
      provider.off('sync', onSync);
      resolve();
    };
    provider.on('sync', onSync);
  });
}

/** Resolves once `check()` holds, testing it after each update of `doc` (and at once). */
export function until(doc: Y.Doc, check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onUpdate = () => {
      if (!check()) return;
      clearTimeout(timer);
      doc.off('update', onUpdate);
      resolve();
    };
    const timer = setTimeout(() => {
      doc.off('update', onUpdate);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    doc.on('update', onUpdate);
  });
}

/** Waits until every editor's text is the same and `check` holds for it. */
export async function agree(editors: Editor[], check: (text: string) => boolean = () => true): Promise<string> {
  const same = () => editors.every((e) => e.text.toString() === editors[0]!.text.toString()) && check(editors[0]!.text.toString());
  await Promise.race(editors.map((e) => until(e.doc, same, 'the editors to agree').catch(() => undefined)));
  if (!same()) throw new Error(`the editors do not agree: ${JSON.stringify(editors.map((e) => e.text.toString()))}`);
  return editors[0]!.text.toString();
}

/** Waits until every editor's text equals `expected`. */
export async function allRead(editors: Editor[], expected: string): Promise<void> {
  await Promise.all(
    editors.map((e, i) =>
      until(
        e.doc,
        () => e.text.toString() === expected,
        `editor ${i} to read ${JSON.stringify(expected)} (has ${JSON.stringify(e.text.toString())})`,
      ),
    ),
  );
}

/** Waits until the provider's awareness holds a state matching `check`. */
export function awarenessHas(
  provider: WebsocketProvider,
  check: (state: Record<string, unknown>) => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const has = () => [...provider.awareness.getStates().values()].some((state) => check(state as Record<string, unknown>));
  if (has()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onChange = () => {
      if (!has()) return;
      clearTimeout(timer);
      provider.awareness.off('change', onChange);
      resolve();
    };
    const timer = setTimeout(() => {
      provider.awareness.off('change', onChange);
      reject(new Error(`no such awareness state within ${timeoutMs} ms: ${JSON.stringify([...provider.awareness.getStates().values()])}`));
    }, timeoutMs);
    provider.awareness.on('change', onChange);
  });
}

export function destroy(...editors: Editor[]): void {
  for (const e of editors) {
    open.delete(e);
    e.provider.destroy();
    e.doc.destroy();
  }
}

/** A y-websocket sync message (0: step 1, 1: step 2, 2: update) carrying `body`. */
export function syncMessage(syncType: number, body: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint8Array(encoder, body);
  return encoding.toUint8Array(encoder);
}

/** The type of a y-websocket message and, for sync and auth messages, their sub-type; the rest of it. */
export function readMessage(data: Uint8Array): { type: number; sub: number | null; decoder: decoding.Decoder } {
  const decoder = decoding.createDecoder(data);
  const type = decoding.readVarUint(decoder);
  const sub = type === 0 || type === 2 ? decoding.readVarUint(decoder) : null;
  return { type, sub, decoder };
}

/** An update that inserts `text` at the start of a fresh document's Y.Text "text". */
export function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('text').insert(0, text);
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

const temporary: string[] = [];

/** A new empty directory under the system's temporary one (a data directory), removed by removeTempDirs(). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-docs-'));
  temporary.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
}
