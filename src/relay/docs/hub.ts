// The documents a node has open and the editors connected to them. An editor is a WebSocket speaking the
// y-websocket protocol (protocol.ts) on ws://host/docs/<name>: the hub loads the document from the
// store on its first editor, sends each newcomer sync step 1 and the awareness states, answers step 1
// with step 2, applies updates (Yjs merges them), hands each change to the other editors (framed once,
// through the server's topics), to the store and to the other nodes, and stores and unloads the
// document when its last editor leaves.
//
// Checked before an update is applied: the connection's rate (a token bucket), read-only access (the
// update is refused, not merged, and the editor told once), the document's size. Every message size is
// bounded by the WebSocket server's maxPayload (1009 beyond).
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { RawData, WebSocket } from '../../connection/websocket.js';
import type { WebSocketServer } from '../../server/websocket-server.js';
import type { Logger } from '../log.js';
import { RateLimiter, type Bucket, type RateLimit } from '../rate-limit.js';
import type { DocPermission } from './access.js';
import { FROM_CLUSTER, FROM_HTTP, SharedDoc } from './document.js';
import {
  awarenessMessage,
  permissionDeniedMessage,
  readDocMessage,
  step1Message,
  step2Message,
  updateMessage,
  type DocMessage,
} from './protocol.js';
import { isEmptyUpdate, type DocStore } from './store.js';

export interface DocBounds {
  /** Largest document (its encoded size), in bytes. */
  maxDocBytes: number;
  /** Most documents open on this node at once. */
  maxOpen: number;
  /** Messages a second one editor may send. */
  rate: RateLimit;
  /** Most awareness clients (cursors) one connection may speak for. */
  maxClientsPerConnection: number;
  /** Most messages held for an editor while its document loads. */
  maxQueued: number;
}

/** Close codes: 4xxx in the 4400s tell y-websocket's provider not to reconnect (it cannot help). */
export const CLOSE_DOC_TOO_LARGE = 4413;

/** What the hub tells the other nodes (cluster-link.ts), and hears from them. */
export interface DocPeers {
  /** Listen to the document's messages from other nodes; resolves once the broker has taken that. */
  listen(doc: string): Promise<void>;
  unlisten(doc: string): void;
  send(doc: string, message: Uint8Array): void;
}

export interface DocStats {
  connectionsOpened: number;
  connectionsClosed: number;
  updatesApplied: number;
  updatesRefused: number;
  loads: number;
  unloads: number;
  storeFailures: number;
}

interface Editor {
  doc: SharedDoc;
  permission: DocPermission;
  bucket: Bucket;
  /** Awareness client ids this connection speaks for (removed when it goes). */
  clients: Set<number>;
  /** Told once that its changes are refused (read-only). */
  told: boolean;
  /** Messages that came before the document was loaded (null once it is). */
  queue: Buffer[] | null;
  peer: string;
}

export class DocHub {
  readonly stats: DocStats = {
    connectionsOpened: 0,
    connectionsClosed: 0,
    updatesApplied: 0,
    updatesRefused: 0,
    loads: 0,
    unloads: 0,
    storeFailures: 0,
  };
  private readonly _docs = new Map<string, SharedDoc>();
  private readonly _editors = new Map<WebSocket, Editor>();
  private readonly _limiter: RateLimiter;
  private readonly _onMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly _onClose: (this: WebSocket) => void;
  private _peers: DocPeers | null = null;

  constructor(
    private readonly _wss: WebSocketServer,
    private readonly _store: DocStore,
    private readonly _bounds: DocBounds,
    private readonly _log: Logger,
  ) {
    this._limiter = new RateLimiter(_bounds.rate);
    const hub = this;
    this._onMessage = function (data, isBinary) {
      hub._message(this, data as Buffer, isBinary);
    };
    this._onClose = function () {
      hub._closed(this);
    };
  }

  /** Connects the hub to the other nodes of a cluster. */
  setPeers(peers: DocPeers): void {
    this._peers = peers;
  }

  /** Documents open on this node. */
  get openCount(): number {
    return this._docs.size;
  }

  get editorCount(): number {
    return this._editors.size;
  }

  /** Null if the document may be opened here, else why not (the node has its most open documents). */
  checkOpen(name: string): string | null {
    if (this._docs.has(name) || this._docs.size < this._bounds.maxOpen) return null;
    return `This relay has its most open documents (${this._bounds.maxOpen}); try again later`;
  }

  /** Takes a new editor of document `name`. */
  accept(ws: WebSocket, name: string, permission: DocPermission, peer: string): void {
    const doc = this._acquire(name);
    const editor: Editor = { doc, permission, bucket: this._limiter.bucket(), clients: new Set(), told: false, queue: [], peer };
    this._editors.set(ws, editor);
    ws.on('message', this._onMessage);
    ws.on('close', this._onClose);
    this.stats.connectionsOpened++;
    doc.ready.then(
      () => this._start(ws, editor),
      () => ws.close(1011, 'The document could not be loaded; try again later'),
    );
  }

  private _start(ws: WebSocket, editor: Editor): void {
    if (this._editors.get(ws) !== editor || ws.readyState !== ws.OPEN) return;
    const { doc } = editor;
    ws.subscribe(doc.name);
    ws.send(step1Message(Y.encodeStateVector(doc.ydoc)));
    const states = doc.awareness.getStates();
    if (states.size > 0) ws.send(awarenessMessage(encodeAwarenessUpdate(doc.awareness, [...states.keys()])));
    if (editor.permission === 'read-only') this._tell(ws, editor);
    const queued = editor.queue!;
    editor.queue = null;
    for (const data of queued) this._handle(ws, editor, data);
  }

  private _message(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const editor = this._editors.get(ws);
    if (editor === undefined) return;
    if (!isBinary) {
      ws.close(1003, 'y-websocket messages are binary');
      return;
    }
    if (!this._limiter.take(editor.bucket)) {
      this._log.warn('editor over the rate limit: closed', { doc: editor.doc.name, peer: editor.peer });
      ws.close(1008, this._limiter.reason());
      return;
    }
    if (editor.queue !== null) {
      if (editor.queue.length >= this._bounds.maxQueued) ws.close(1008, 'Too many messages before the document was loaded');
      // A copy: the connection may reuse the buffer it read into.
      else editor.queue.push(Buffer.from(data));
      return;
    }
    this._handle(ws, editor, data);
  }

  private _handle(ws: WebSocket, editor: Editor, data: Uint8Array): void {
    let message: DocMessage;
    try {
      message = readDocMessage(data);
    } catch (error) {
      ws.close(1007, (error as Error).message);
      return;
    }
    const { doc } = editor;
    try {
      switch (message.kind) {
        case 'step1':
          ws.send(step2Message(doc.missing(message.stateVector)));
          break;
        case 'update':
          this._update(ws, editor, message.update);
          break;
        case 'awareness':
          applyAwarenessUpdate(doc.awareness, message.update, ws);
          if (editor.clients.size > this._bounds.maxClientsPerConnection)
            ws.close(1008, `One connection may speak for at most ${this._bounds.maxClientsPerConnection} awareness clients`);
          break;
        case 'query-awareness': {
          const states = doc.awareness.getStates();
          if (states.size > 0) ws.send(awarenessMessage(encodeAwarenessUpdate(doc.awareness, [...states.keys()])));
          break;
        }
        case 'auth':
          break;
      }
    } catch (error) {
      // Yjs or y-protocols could not read it: a malformed state vector, update or awareness update.
      ws.close(1007, `Not a valid Yjs message: ${truncate(String((error as Error)?.message ?? error))}`);
    }
  }

  private _update(ws: WebSocket, editor: Editor, update: Uint8Array): void {
    if (isEmptyUpdate(update)) return;
    const { doc } = editor;
    if (editor.permission === 'read-only') {
      this.stats.updatesRefused++;
      this._tell(ws, editor);
      return;
    }
    const refusal = this._check(doc, update);
    if (refusal !== null) {
      this.stats.updatesRefused++;
      this._log.warn('update refused', { doc: doc.name, peer: editor.peer, reason: refusal });
      ws.close(CLOSE_DOC_TOO_LARGE, truncate(refusal));
      return;
    }
    Y.applyUpdate(doc.ydoc, update, ws);
  }

  /** Null if the update may be applied to the document; else why not. Throws for a malformed update. */
  private _check(doc: SharedDoc, update: Uint8Array): string | null {
    // Read through before anything is applied: Yjs applies a malformed update up to where it breaks.
    Y.parseUpdateMeta(update);
    if (!doc.fits(update.length, this._bounds.maxDocBytes))
      return `The document would pass its size limit of ${this._bounds.maxDocBytes} bytes`;
    return null;
  }

  /** Tells a read-only editor, once, that its changes are not kept. */
  private _tell(ws: WebSocket, editor: Editor): void {
    if (editor.told) return;
    editor.told = true;
    ws.send(permissionDeniedMessage('This document is read-only for you: your changes are not saved'));
  }

  private _closed(ws: WebSocket): void {
    const editor = this._editors.get(ws);
    if (editor === undefined) return;
    this._editors.delete(ws);
    this.stats.connectionsClosed++;
    const { doc } = editor;
    if (editor.clients.size > 0) removeAwarenessStates(doc.awareness, [...editor.clients], null);
    this._release(doc);
  }

  // ---------------------------------------------------------------- documents

  /** The document, loading it if it is not open; counts one more user until _release. */
  private _acquire(name: string): SharedDoc {
    let doc = this._docs.get(name);
    if (doc === undefined) {
      doc = new SharedDoc(name);
      this._docs.set(name, doc);
      this._listen(doc);
      doc.ready = this._load(doc);
      doc.ready.catch(() => undefined);
    }
    doc.users++;
    return doc;
  }

  private async _load(doc: SharedDoc): Promise<void> {
    // Listening first: a change another node makes while the store is read comes one way or the other.
    const listening = this._peers?.listen(doc.name).catch(() => undefined);
    try {
      doc.restore(await this._store.load(doc.name));
      await listening;
    } catch (error) {
      this._log.error('a document could not be loaded', {
        doc: doc.name,
        store: this._store.description,
        error: String((error as Error)?.message ?? error),
      });
      if (this._docs.get(doc.name) === doc) this._docs.delete(doc.name);
      this._peers?.unlisten(doc.name);
      doc.destroy();
      throw error;
    }
    doc.loaded = true;
    this.stats.loads++;
    // What other nodes hold that the store has not yet got, and who is on the document there.
    this._peers?.send(doc.name, step1Message(Y.encodeStateVector(doc.ydoc)));
  }

  private _listen(doc: SharedDoc): void {
    doc.ydoc.on('update', (update: Uint8Array, origin: unknown) => this._changed(doc, update, origin));
    doc.awareness.on('update', ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
      const editor = typeof origin === 'object' && origin !== null ? this._editors.get(origin as WebSocket) : undefined;
      if (editor !== undefined) {
        for (const id of added) editor.clients.add(id);
        for (const id of updated) editor.clients.add(id);
        for (const id of removed) editor.clients.delete(id);
      }
      const changed = [...added, ...updated, ...removed];
      const message = awarenessMessage(encodeAwarenessUpdate(doc.awareness, changed));
      // Every editor, its sender too: an editor alone hears its own renewals, which keeps y-websocket's
      // provider from taking the connection for dead.
      this._wss.publish(doc.name, message, { binary: true });
      if (origin !== FROM_CLUSTER) this._peers?.send(doc.name, message);
    });
  }

  /** A change was applied: to the other editors, the store and the other nodes. */
  private _changed(doc: SharedDoc, update: Uint8Array, origin: unknown): void {
    if (!doc.loaded && origin !== FROM_CLUSTER) return; // restoring from the store
    const message = updateMessage(update);
    const sender = typeof origin === 'object' && origin !== null ? (origin as WebSocket) : undefined;
    this._wss.publish(doc.name, message, { binary: true, ...(sender !== undefined ? { except: sender } : {}) });
    doc.changed(update.length);
    if (origin === FROM_CLUSTER) {
      // The node that took it stores it; this one stores it too when it compacts or unloads.
      doc.unstored = true;
      return;
    }
    this.stats.updatesApplied++;
    this._peers?.send(doc.name, message);
    doc.appended += update.length;
    doc.appendedCount++;
    doc.lastAppend = this._store.append(doc.name, update).catch((error: unknown) => {
      doc.unstored = true;
      this.stats.storeFailures++;
      this._log.error('an update could not be stored (kept in memory; stored again when the document is compacted)', {
        doc: doc.name,
        store: this._store.description,
        error: String((error as Error)?.message ?? error),
      });
    });
    if (doc.compactionDue && doc.compacting === null) void this._compact(doc);
  }

  private async _compact(doc: SharedDoc): Promise<void> {
    try {
      await doc.compact(this._store);
    } catch (error) {
      this.stats.storeFailures++;
      this._log.error('a document could not be compacted', {
        doc: doc.name,
        store: this._store.description,
        error: String((error as Error)?.message ?? error),
      });
    }
  }

  private _release(doc: SharedDoc): void {
    if (--doc.users > 0 || doc.unloading !== null) return;
    doc.unloading = this._unload(doc);
  }

  /** Stores what the document holds, then unloads it unless someone came meanwhile. */
  private async _unload(doc: SharedDoc): Promise<void> {
    try {
      await doc.ready.catch(() => undefined);
      if (!doc.loaded) return;
      await doc.lastAppend;
      if (doc.dirty) await this._compact(doc);
    } finally {
      doc.unloading = null;
      if (doc.users === 0 && this._docs.get(doc.name) === doc) {
        this._docs.delete(doc.name);
        this._peers?.unlisten(doc.name);
        doc.destroy();
        this.stats.unloads++;
      }
    }
  }

  // ---------------------------------------------------------------- backends (HTTP)

  /**
   * Runs `use` on the loaded document (loading it for the time of the call if nobody has it open);
   * rejects as the load does.
   */
  async use<T>(name: string, use: (doc: SharedDoc) => T | Promise<T>): Promise<T> {
    const doc = this._acquire(name);
    try {
      await doc.ready;
      return await use(doc);
    } finally {
      this._release(doc);
    }
  }

  /**
   * Applies an update from a backend: checked as an editor's (size, well-formed), then merged and stored.
   * Resolves once the store has it; rejects with a DocRefusal when it is not applied.
   */
  apply(name: string, update: Uint8Array): Promise<void> {
    return this.use(name, async (doc) => {
      let refusal: string | null;
      try {
        refusal = this._check(doc, update);
      } catch (error) {
        throw new DocRefusal(400, `The body is not a Yjs update (${truncate(String((error as Error)?.message ?? error))})`);
      }
      if (refusal !== null) throw new DocRefusal(413, refusal);
      if (isEmptyUpdate(update)) return;
      Y.applyUpdate(doc.ydoc, update, FROM_HTTP);
      await doc.lastAppend;
    });
  }

  // ---------------------------------------------------------------- other nodes

  /** A message another node sent about a document open here. */
  fromPeer(name: string, data: Uint8Array): void {
    const doc = this._docs.get(name);
    if (doc === undefined) return;
    let message: DocMessage;
    try {
      message = readDocMessage(data);
    } catch {
      return;
    }
    try {
      switch (message.kind) {
        case 'step1': {
          // A node opened the document: what this one has that it lacks, and who is here.
          if (!doc.loaded) return;
          const missing = doc.missing(message.stateVector);
          if (!isEmptyUpdate(missing)) this._peers?.send(name, step2Message(missing));
          const local = this._localClients(doc);
          if (local.length > 0) this._peers?.send(name, awarenessMessage(encodeAwarenessUpdate(doc.awareness, local)));
          break;
        }
        case 'update':
          Y.applyUpdate(doc.ydoc, message.update, FROM_CLUSTER);
          break;
        case 'awareness':
          applyAwarenessUpdate(doc.awareness, message.update, FROM_CLUSTER);
          break;
        default:
          break;
      }
    } catch (error) {
      this._log.warn('ignored a document message from another node that Yjs could not read', { doc: name, error: String(error) });
    }
  }

  /** After the link to the other nodes came back: exchange what was missed meanwhile. */
  resync(): void {
    for (const doc of this._docs.values()) {
      if (!doc.loaded) continue;
      this._peers?.send(doc.name, step1Message(Y.encodeStateVector(doc.ydoc)));
      const local = this._localClients(doc);
      if (local.length > 0) this._peers?.send(doc.name, awarenessMessage(encodeAwarenessUpdate(doc.awareness, local)));
    }
  }

  private _localClients(doc: SharedDoc): number[] {
    const ids: number[] = [];
    for (const editor of this._editors.values())
      if (editor.doc === doc) for (const id of editor.clients) if (doc.awareness.states.has(id)) ids.push(id);
    return ids;
  }

  /** Stores and unloads every document (after the connections were closed); waits for the store. */
  async close(): Promise<void> {
    for (const [ws] of this._editors) this._closed(ws);
    await Promise.all([...this._docs.values()].map((doc) => doc.unloading ?? Promise.resolve()));
  }
}

interface AwarenessChange {
  added: number[];
  updated: number[];
  removed: number[];
}

/** An update a backend sent that is not applied: the HTTP status and why. */
export class DocRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function truncate(text: string): string {
  return Buffer.byteLength(text) > 120 ? text.slice(0, 100) + '…' : text;
}
