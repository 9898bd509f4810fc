// Collaborative documents on the relay: a WebSocket server of their own for the editors (upgrades the
// relay routes here: ws://host/docs/<name>), with its own bounds (largest message, a slow editor closed
// rather than skipped: a skipped update would leave its document broken), the hub that keeps the open
// documents, their store, the HTTP side (http.ts) and, in a cluster, the link to the other nodes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from '../../connection/websocket.js';
import { UpgradeRejection } from '../../server/admission.js';
import { WebSocketServer } from '../../server/websocket-server.js';
import { peerOf } from '../relay.js';
import { isDenial } from '../access.js';
import { ExpirySweep } from '../expiry.js';
import { CloseCodes } from '../identity.js';
import { decide, narrow, readOnlyPatterns, type DocAccessHook, type DocPermission } from './access.js';
import { linkDocs } from './cluster-link.js';
import { DocHub } from './hub.js';
import { createDocsHandler } from './http.js';
import type { DocsContext } from './load.js';
import { docName, DOCS_PREFIX, EDIT_PREFIX, pathOf, type DocsEndpoint, type DocsSettings, type DocStoreSettings } from './settings.js';
import type { DocStore } from './store.js';

interface Admitted {
  doc: string;
  permission: DocPermission;
  /** When the user's token expires (ms; null: never). */
  expires: number | null;
}

export class DocService implements DocsEndpoint {
  private readonly _wss: WebSocketServer;
  readonly hub: DocHub;
  private readonly _handler: (request: IncomingMessage, response: ServerResponse) => void;
  private _closing: Promise<void> | null = null;

  /** Closes editors whose token expired (4001). */
  private readonly _expiry = new ExpirySweep();

  private constructor(
    private readonly _settings: DocsSettings,
    private readonly _context: DocsContext,
    private readonly _store: DocStore,
  ) {
    const { log } = _context;
    const access = _settings.access ?? readOnlyPatterns(_settings.readOnly);
    this._wss = new WebSocketServer({
      noServer: true,
      maxPayload: _settings.maxUpdateBytes,
      // A newcomer is sent the whole document at once: room for it and for the changes behind it.
      maxBackpressure: _settings.maxDocBytes + _context.maxBackpressure,
      backpressurePolicy: 'close',
      ...(_context.heartbeat > 0 ? { heartbeat: { interval: _context.heartbeat, timeout: _context.heartbeat } } : {}),
      handleProtocols: () => false,
      authenticate: (request) => this._admit(access, request),
    });
    this._wss.on('authError', (error: unknown) => log.error('document upgrade check failed', { error: String(error) }));
    this.hub = new DocHub(
      this._wss,
      _store,
      { maxDocBytes: _settings.maxDocBytes, maxOpen: _settings.maxOpen, rate: _settings.rate, maxClientsPerConnection: 8, maxQueued: 64 },
      log,
    );
    if (_context.cluster !== undefined) this.hub.setPeers(linkDocs(_context.cluster, this.hub, log));
    this._wss.on('connection', (ws: WebSocket, request: IncomingMessage, admitted: Admitted) => {
      this.hub.accept(ws, admitted.doc, admitted.permission, peerOf(request));
      if (admitted.expires !== null) {
        this._expiry.watch(ws, admitted.expires, () => ws.close(CloseCodes.TokenExpired, 'Token expired'));
        ws.on('close', () => this._expiry.unwatch(ws));
      }
    });
    this._handler = createDocsHandler({
      hub: this.hub,
      access: _context.access,
      docAccess: access,
      maxUpdateBytes: _settings.maxUpdateBytes,
      log,
      closing: () => this._closing !== null,
    });
  }

  static async start(settings: DocsSettings, context: DocsContext): Promise<DocService> {
    const store = await openStore(settings.store, context);
    return new DocService(settings, context, store);
  }

  claimsUpgrade(path: string): boolean {
    return path.startsWith(DOCS_PREFIX);
  }

  claimsRequest(path: string): boolean {
    return path.startsWith(DOCS_PREFIX) || path.startsWith(EDIT_PREFIX) || path === '/edit.js' || path === '/edit.css';
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this._wss.handleUpgrade(request, socket, head, (ws, req, admitted) => this._wss.emit('connection', ws, req, admitted));
  }

  handleRequest(request: IncomingMessage, response: ServerResponse): void {
    this._handler(request, response);
  }

  get connections(): number {
    return this._wss.clients.size;
  }

  get description(): string {
    const readOnly = this._settings.readOnly.length > 0 ? `, read-only: ${this._settings.readOnly.join(' ')}` : '';
    return `${DOCS_PREFIX} kept in ${this._store.description}${readOnly}`;
  }

  /** Origin, token, the document's name, the access hook, then the node's bounds. */
  private async _admit(access: DocAccessHook, request: IncomingMessage): Promise<Admitted> {
    const relayAccess = this._context.access;
    const origin = relayAccess.checkOrigin(request);
    const identity = origin ?? (await relayAccess.identify(request, true));
    if (isDenial(identity)) throw this._refuse(request, identity.status, identity.body, identity.headers);
    const name = docName(pathOf(request.url).slice(DOCS_PREFIX.length));
    if (!name.ok) throw this._refuse(request, 400, name.message);
    const permission = narrow(identity!, name.doc, await decide(access, request, name.doc));
    if (typeof permission !== 'string') throw this._refuse(request, permission.status, permission.body, permission.headers);
    const { maxConnections, otherConnections } = this._context;
    if (maxConnections > 0 && otherConnections() + this._wss.clients.size >= maxConnections) {
      throw this._refuse(request, 503, 'The relay has its most connections; try again later');
    }
    const full = this.hub.checkOpen(name.doc);
    if (full !== null) throw this._refuse(request, 503, full);
    return { doc: name.doc, permission, expires: identity!.expires };
  }

  private _refuse(request: IncomingMessage, status: number, body: string, headers?: Record<string, string>): UpgradeRejection {
    this._context.log.info('document upgrade refused', { peer: peerOf(request), status, reason: body });
    return new UpgradeRejection(status, body, headers);
  }

  metricsText(): string {
    const { stats } = this.hub;
    const lines = [
      ['wavecast_docs_open', 'gauge', 'Collaborative documents open on this node', this.hub.openCount],
      ['wavecast_docs_editors', 'gauge', 'Editor connections to documents on this node', this.hub.editorCount],
      ['wavecast_docs_updates_total', 'counter', "Document updates applied from this node's editors and backends", stats.updatesApplied],
      [
        'wavecast_docs_updates_refused_total',
        'counter',
        'Document updates refused (read-only access, document size)',
        stats.updatesRefused,
      ],
      ['wavecast_docs_store_failures_total', 'counter', 'Appends and compactions the document store failed', stats.storeFailures],
    ] as const;
    return lines.map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`).join('');
  }

  close(timeout: number): Promise<void> {
    this._expiry.stop();
    this._closing ??= (async () => {
      await this._wss.close({ code: 1001, reason: 'Server shutting down', timeout });
      await this.hub.close();
      await this._store.close();
    })();
    return this._closing;
  }

  terminate(): void {
    for (const ws of this._wss.clients) ws.terminate();
  }
}

async function openStore(settings: DocStoreSettings, context: DocsContext): Promise<DocStore> {
  const warn = (message: string, fields: Record<string, unknown>) => context.log.warn(message, fields as Record<string, string>);
  switch (settings.kind) {
    case 'files': {
      const { FileDocStore } = await import('./store-file.js');
      return new FileDocStore(settings.dir, { warn });
    }
    case 'postgres': {
      const { PostgresDocStore } = await import('./store-postgres.js');
      return PostgresDocStore.open(settings.url, (error) =>
        context.log.warn('a PostgreSQL connection of the document store failed; the next query opens another', { error: error.message }),
      );
    }
    case 'redis': {
      const [{ RedisDocStore }, { RedisLink }] = await Promise.all([import('./store-redis.js'), import('../../cluster/redis-link.js')]);
      // On the cluster's link when the relay is a cluster node on this Redis (one link per node).
      const link = context.cluster?.adapter.link;
      return RedisDocStore.open(link instanceof RedisLink ? link : settings.url, settings.prefix);
    }
    case 'nats': {
      const [{ NatsDocStore }, { NatsLink }] = await Promise.all([import('./store-nats.js'), import('../../cluster/nats-link.js')]);
      const link = context.cluster?.adapter.link;
      return NatsDocStore.open(link instanceof NatsLink ? link : settings.url, settings.prefix);
    }
  }
}
