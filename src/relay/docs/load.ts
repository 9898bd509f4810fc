// Starts the collaborative documents for the relay. Yjs and y-protocols are optional peer dependencies
// of wavecast: `import 'wavecast'` never loads them, and neither does the relay until documents start,
// here. Without them the relay runs as before and says, on /docs/ and /edit/, what to install.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Access } from '../access.js';
import type { RelayCluster } from '../cluster.js';
import type { Logger } from '../log.js';
import { DOCS_PREFIX, EDIT_PREFIX, type DocsEndpoint, type DocsSettings } from './settings.js';

export interface DocsContext {
  log: Logger;
  access: Access;
  cluster?: RelayCluster;
  /** ms; 0: off */
  heartbeat: number;
  maxConnections: number;
  maxBackpressure: number;
  /** The relay's other WebSocket connections (they share --max-connections). */
  otherConnections: () => number;
}

const MISSING =
  'Collaborative documents need the yjs and y-protocols packages (optional peer dependencies of wavecast): npm install yjs y-protocols';

export async function startDocs(settings: DocsSettings, context: DocsContext): Promise<DocsEndpoint> {
  let service: typeof import('./service.js');
  try {
    service = await import('./service.js');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    context.log.warn(`${MISSING}; the relay runs without them`, { error: String((error as Error).message) });
    return unavailable();
  }
  try {
    return await service.DocService.start(settings, context);
  } catch (error) {
    // Their store cannot be reached (or its client package is missing): the relay does not start.
    const failure = new Error(`collaborative documents: ${String((error as Error)?.message ?? error)}`, { cause: error });
    (failure as Error & { code: string }).code = DOCS_UNAVAILABLE;
    throw failure;
  }
}

/** The code of the error startDocs rejects with when the documents' store cannot be opened. */
export const DOCS_UNAVAILABLE = 'WAVECAST_DOCS_UNAVAILABLE';

/** Documents that cannot start: every request for them is told why (503). */
function unavailable(): DocsEndpoint {
  const claimsRequest = (path: string) => path.startsWith(DOCS_PREFIX) || path.startsWith(EDIT_PREFIX);
  return {
    claimsUpgrade: (path) => path.startsWith(DOCS_PREFIX),
    claimsRequest,
    handleUpgrade(_request: IncomingMessage, socket: Duplex) {
      const body = `${MISSING}\n`;
      socket.on('error', () => socket.destroy());
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    },
    handleRequest(_request: IncomingMessage, response: ServerResponse) {
      response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${MISSING}\n`);
    },
    connections: 0,
    description: 'off (yjs and y-protocols are not installed)',
    metricsText: () => '',
    close: async () => undefined,
    terminate: () => undefined,
  };
}
