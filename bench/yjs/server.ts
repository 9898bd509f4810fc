// One collaborative-editing server for the yjs benchmark, in a process of its own: `wavecast` (the
// built relay's documents, with its defaults: the file store under a temporary data directory),
// `y-websocket` (@y/websocket-server's setupWSConnection on a `ws` server, in memory) or `hocuspocus`
// (@hocuspocus/server, in memory). It tells the runner its port, and answers its questions over IPC:
// memory after a full gc, and CPU time used.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type YjsServerKind = 'wavecast' | 'y-websocket' | 'hocuspocus';

export type YjsServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'mem'; rss: number; heap: number }
  | { type: 'cpu'; micros: number }
  | { type: 'error'; message: string };

const ROOT = new URL('../../../', import.meta.url);

async function start(kind: YjsServerKind): Promise<{ port: number; close(): Promise<void> }> {
  if (kind === 'wavecast') {
    const dir = mkdtempSync(join(tmpdir(), 'wavecast-bench-docs-'));
    const { Relay } = (await import(
      pathToFileURL(join(ROOT.pathname, 'dist/relay/relay.js')).href
    )) as typeof import('../../src/relay/relay.js');
    const { createLogger } = (await import(
      pathToFileURL(join(ROOT.pathname, 'dist/relay/log.js')).href
    )) as typeof import('../../src/relay/log.js');
    const { DEFAULT_DOCS } = (await import(
      pathToFileURL(join(ROOT.pathname, 'dist/relay/docs/settings.js')).href
    )) as typeof import('../../src/relay/docs/settings.js');
    const relay = await Relay.start({
      port: 0,
      host: '127.0.0.1',
      maxPayload: 65536,
      origins: [],
      rateLimit: { rate: 0, burst: 1 },
      maxBackpressure: 1024 * 1024,
      backpressurePolicy: 'drop',
      maxConnections: 0,
      heartbeat: 30_000,
      metricsChannels: 20,
      log: createLogger({ level: 'error' }),
      history: { limit: 100, ttl: 3_600_000, maxBytes: 1024 * 1024 },
      docs: { ...DEFAULT_DOCS, store: { kind: 'files', dir }, readOnly: [] },
    });
    return {
      port: relay.address().port,
      async close() {
        await relay.close(1000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (kind === 'y-websocket') {
    const { WebSocketServer } = await import('ws');
    const { setupWSConnection } = (await import('@y/websocket-server/utils')) as { setupWSConnection(conn: unknown, req: unknown): void };
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (conn, req) => setupWSConnection(conn, req));
    return { port: (wss.address() as { port: number }).port, close: () => new Promise((resolve) => wss.close(() => resolve())) };
  }
  const { Server } = await import('@hocuspocus/server');
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true });
  await server.listen();
  return { port: server.address.port, close: () => server.destroy() };
}

const kind = process.argv[2] as YjsServerKind;
const send = (message: YjsServerMessage) => process.send?.(message);
start(kind).then(
  (server) => {
    process.on('message', (message: { cmd: string }) => {
      if (message.cmd === 'mem') {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
        const usage = process.memoryUsage();
        send({ type: 'mem', rss: usage.rss, heap: usage.heapUsed + usage.external });
      } else if (message.cmd === 'cpu') {
        const { user, system } = process.cpuUsage();
        send({ type: 'cpu', micros: user + system });
      } else if (message.cmd === 'exit') {
        void server.close().finally(() => process.exit(0));
      }
    });
    send({ type: 'ready', port: server.port });
  },
  (error: unknown) => {
    send({ type: 'error', message: String((error as Error)?.stack ?? error) });
    process.exit(1);
  },
);
