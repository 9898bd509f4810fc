// What `wavecast serve` (or a program starting a Relay) says about collaborative documents. This file
// loads nothing: the relay reads these settings without Yjs, which is loaded only when documents start.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { decodeChannel } from '../channel.js';
import type { RateLimit } from '../rate-limit.js';
import type { DocAccessHook } from './access.js';

/** Where y-websocket editors connect: ws://host:port/docs/<document>. */
export const DOCS_PREFIX = '/docs/';
/** The editor page: http://host:port/edit/<document>. */
export const EDIT_PREFIX = '/edit/';

export type DocStoreSettings =
  | { kind: 'files'; dir: string }
  | { kind: 'postgres'; url: string }
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'nats'; url: string; prefix: string };

export interface DocsSettings {
  store: DocStoreSettings;
  /** Documents whose names match one of these patterns are read-only ("*": any run of characters). */
  readOnly: readonly string[];
  /** Decides each request's access to a document instead of `readOnly` (identity-based permissions). */
  access?: DocAccessHook;
  /** Largest document (encoded), in bytes. */
  maxDocBytes: number;
  /** Largest message an editor may send (an update), in bytes; 1009 beyond. */
  maxUpdateBytes: number;
  /** Most documents open on this node. */
  maxOpen: number;
  /** Messages a second one editor may send (a token bucket: rate and burst). */
  rate: RateLimit;
}

export const DEFAULT_DOCS: Omit<DocsSettings, 'store' | 'readOnly'> = {
  maxDocBytes: 16 * 1024 * 1024,
  maxUpdateBytes: 2 * 1024 * 1024,
  maxOpen: 10_000,
  rate: { rate: 60, burst: 200 },
};

/** What the relay hands to the documents. */
export interface DocsEndpoint {
  /** Whether a WebSocket upgrade to `path` is an editor's. */
  claimsUpgrade(path: string): boolean;
  /** Whether an HTTP request to `path` is for the documents or the editor page. */
  claimsRequest(path: string): boolean;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  handleRequest(request: IncomingMessage, response: import('node:http').ServerResponse): void;
  /** Open editor connections. */
  readonly connections: number;
  /** Where documents are kept, for the start line ("files under …", "PostgreSQL at …"). */
  readonly description: string;
  /** Prometheus lines. */
  metricsText(): string;
  /** Closes editors with 1001, stores every open document, closes the store. */
  close(timeout: number): Promise<void>;
  terminate(): void;
}

export function pathOf(target: string | undefined): string {
  const raw = target ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** A document's name from its percent-encoded form in a path: as a channel's, at most 256 bytes, no control characters. */
export function docName(encoded: string): { ok: true; doc: string } | { ok: false; message: string } {
  if (encoded === '') return { ok: false, message: `Name the document: ${DOCS_PREFIX}<name>` };
  const checked = decodeChannel(encoded);
  if (!checked.ok)
    return { ok: false, message: checked.message.replace(/Channel name/g, 'Document name').replace(/channel name/g, 'document name') };
  return { ok: true, doc: checked.channel };
}
