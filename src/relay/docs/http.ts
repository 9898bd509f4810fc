// The documents' HTTP side, for backends and browsers:
//
//   GET  /docs/<name>                 {"doc":…,"types":{…}}: each top-level shared type as JSON (content.ts)
//   GET  /docs/<name>?text=<type>     that type as plain text (a Y.Text's string, an XML fragment's XML)
//   GET  /docs/<name>?format=update   the whole document as one Yjs update (application/octet-stream)
//   POST /docs/<name>                 a Yjs update (application/octet-stream): applied as an editor's
//                                     would be (checked, merged, stored, sent to every editor)
//   GET  /edit/<name>                 the editor page; /edit.js and /edit.css its script and style
//
// As the channels' HTTP API: the --token (Authorization: Bearer) on reads and writes, the origin list
// on writes; then the document access hook (a write needs read-write access).
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as Y from 'yjs';
import { isDenial, type Access } from '../access.js';
import { bodyKind, deny, PAGE_SECURITY_HEADERS, refuseBody, send } from '../http-routes.js';
import type { Logger } from '../log.js';
import { loadPageAssets, type PageAssets } from '../page-assets.js';
import { decide, narrow, type DocAccessHook } from './access.js';
import { documentJson, sharedText } from './content.js';
import { DocRefusal, type DocHub } from './hub.js';
import { docName, DOCS_PREFIX, EDIT_PREFIX } from './settings.js';

export interface DocsHttpOptions {
  hub: DocHub;
  access: Access;
  docAccess: DocAccessHook;
  maxUpdateBytes: number;
  log: Logger;
  closing(): boolean;
  /** The editor page (default: the built one beside the chat page). */
  page?: PageAssets;
}

/** The chat page's policy, but for style attributes: CodeMirror and y-codemirror.next colour the others' cursors with them. */
const EDIT_SECURITY_HEADERS = {
  ...PAGE_SECURITY_HEADERS,
  'Content-Security-Policy': PAGE_SECURITY_HEADERS['Content-Security-Policy'].replace(
    "style-src 'self'",
    "style-src 'self' 'unsafe-inline'",
  ),
};

const EDIT_FILES: ReadonlyArray<[path: string, file: string, type: string]> = [
  ['/edit', 'edit.html', 'text/html; charset=utf-8'],
  ['/edit.js', 'edit.js', 'text/javascript; charset=utf-8'],
  ['/edit.css', 'edit.css', 'text/css; charset=utf-8'],
];

export function createDocsHandler(options: DocsHttpOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const page = options.page ?? loadPageAssets(undefined, EDIT_FILES);
  return (request, response) => {
    request.on('error', () => response.destroy());
    route(options, page, request, response).catch((error: unknown) => {
      options.log.error('document request failed', {
        method: request.method,
        url: request.url,
        error: String((error as Error)?.message ?? error),
      });
      if (!response.headersSent) send(response, 503, 'The document could not be read or stored; try again\n');
      else response.destroy();
    });
  };
}

async function route(options: DocsHttpOptions, page: PageAssets, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = request.url ?? '/';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  const params = new URLSearchParams(query === -1 ? '' : target.slice(query + 1));
  const method = request.method ?? 'GET';
  const readOnly = method === 'GET' || method === 'HEAD';

  if (!path.startsWith(DOCS_PREFIX)) {
    if (!readOnly) return send(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    const asset = page.get(path.startsWith(EDIT_PREFIX) ? '/edit' : path);
    if (asset === undefined || !page.built)
      return send(response, 503, 'The editor page has not been built: run npm run build, then restart the relay\n');
    const headers = { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' };
    return send(response, 200, asset.body, path.startsWith(EDIT_PREFIX) ? { ...headers, ...EDIT_SECURITY_HEADERS } : headers);
  }
  if (!readOnly && method !== 'POST')
    return send(response, 405, 'Read a document with GET, apply an update to it with POST\n', { Allow: 'GET, HEAD, POST' });
  if (!readOnly && options.closing()) return refuseBody(response, { status: 503, body: 'The relay is shutting down' });
  const origin = readOnly ? null : options.access.checkOrigin(request);
  const identity = origin ?? (await options.access.identify(request, false));
  if (isDenial(identity)) return readOnly ? deny(response, identity) : refuseBody(response, identity);
  const name = docName(path.slice(DOCS_PREFIX.length));
  if (!name.ok) return refuseBody(response, { status: 400, body: name.message });
  const permission = narrow(identity!, name.doc, await decide(options.docAccess, request, name.doc));
  if (typeof permission !== 'string') return refuseBody(response, permission);
  if (readOnly) return read(options, response, name.doc, params);
  if (permission !== 'read-write')
    return refuseBody(response, { status: 403, body: `The document ${JSON.stringify(name.doc)} is read-only for you` });
  return apply(options, request, response, name.doc);
}

async function read(options: DocsHttpOptions, response: ServerResponse, doc: string, params: URLSearchParams): Promise<void> {
  const format = params.get('format') ?? 'json';
  const textOf = params.get('text');
  if (format !== 'json' && format !== 'update')
    return send(response, 400, `format must be json or update, not ${JSON.stringify(format.slice(0, 32))}\n`);
  const headers = { 'Cache-Control': 'no-store' };
  await options.hub.use(doc, (shared) => {
    if (format === 'update')
      return send(response, 200, Buffer.from(Y.encodeStateAsUpdate(shared.ydoc)), {
        ...headers,
        'Content-Type': 'application/octet-stream',
      });
    if (textOf !== null) {
      const text = sharedText(shared.ydoc, textOf);
      if (text === undefined) return send(response, 404, `The document has no shared type named ${JSON.stringify(textOf.slice(0, 64))}\n`);
      return send(response, 200, text, headers);
    }
    return send(response, 200, JSON.stringify({ doc, types: documentJson(shared.ydoc) }) + '\n', {
      ...headers,
      'Content-Type': 'application/json',
    });
  });
}

async function apply(options: DocsHttpOptions, request: IncomingMessage, response: ServerResponse, doc: string): Promise<void> {
  if (bodyKind(request.headers['content-type']) !== 'binary') {
    return refuseBody(response, {
      status: 415,
      body: 'Send a Yjs update (Y.encodeStateAsUpdate, or a doc\'s "update" event) as application/octet-stream',
    });
  }
  const body = await readBody(request, response, options.maxUpdateBytes);
  if (body === null) return;
  try {
    await options.hub.apply(doc, body);
  } catch (error) {
    if (error instanceof DocRefusal) return send(response, error.status, error.message + '\n');
    throw error;
  }
  send(response, 200, JSON.stringify({ doc, applied: body.length }) + '\n', { 'Content-Type': 'application/json' });
}

/** The request's body, or null once it was refused for passing `max` bytes (413). */
function readBody(request: IncomingMessage, response: ServerResponse, max: number): Promise<Buffer | null> {
  const tooLarge = { status: 413, body: `The update is larger than the relay's limit of ${max} bytes (--doc-max-update)` };
  if (Number(request.headers['content-length']) > max) {
    refuseBody(response, tooLarge);
    return Promise.resolve(null);
  }
  if (request.headers.expect?.toLowerCase() === '100-continue') response.writeContinue();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size > max) return;
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        refuseBody(response, tooLarge);
        resolve(null);
      } else chunks.push(chunk);
    });
    request.on('end', () => {
      if (size <= max) resolve(Buffer.concat(chunks, size));
    });
    request.on('error', reject);
  });
}
