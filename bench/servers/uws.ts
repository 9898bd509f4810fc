// Optional peer: uWebSockets.js, loaded from the built copy that UWS_PATH points to (it is not on the npm
// registry). Usage: UWS_PATH=/path/to/uWebSockets.js node uws.js <mode>. Best effort: this file is only
// exercised on machines that have such a build.
import { createRequire } from 'node:module';
import { installControl, parseMode, ready, unsupported, TOPIC } from './control.js';

interface UwsSocket {
  send(message: ArrayBuffer, isBinary?: boolean, compress?: boolean): number;
  subscribe(topic: string): boolean;
}
interface UwsApp {
  ws(pattern: string, behavior: Record<string, unknown>): UwsApp;
  publish(topic: string, message: ArrayBuffer, isBinary?: boolean, compress?: boolean): boolean;
  listen(port: number, cb: (token: unknown) => void): UwsApp;
}
interface Uws {
  App(): UwsApp;
  us_socket_local_port(token: unknown): number;
  SHARED_COMPRESSOR: number;
  DISABLED: number;
}

installControl();
const mode = parseMode(process.argv[2]);
if (process.argv[3] === 'http') unsupported('uWebSockets.js runs its own HTTP server, not on node:http');
const path = process.env.UWS_PATH;
if (!path) unsupported('UWS_PATH is not set');
let uws: Uws;
try {
  uws = createRequire(import.meta.url)(path) as Uws;
} catch (err) {
  unsupported(`cannot load uWebSockets.js from ${path}: ${(err as Error).message}`);
}

const clients = new Set<UwsSocket>();
const app = uws.App().ws('/*', {
  maxPayloadLength: 4 * 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 0,
  compression: mode === 'deflate' ? uws.SHARED_COMPRESSOR : uws.DISABLED,
  open: (ws: UwsSocket) => {
    clients.add(ws);
    if (mode === 'publish') ws.subscribe(TOPIC);
  },
  close: (ws: UwsSocket) => {
    clients.delete(ws);
  },
  message: (ws: UwsSocket, message: ArrayBuffer, isBinary: boolean) => {
    switch (mode) {
      case 'echo':
        ws.send(message, isBinary);
        break;
      case 'deflate':
        ws.send(message, isBinary, true);
        break;
      case 'broadcast':
        for (const client of clients) client.send(message, isBinary);
        break;
      case 'publish':
        app.publish(TOPIC, message, isBinary);
        break;
    }
  },
});
app.listen(0, (token) => {
  if (!token) throw new Error('uWebSockets.js could not listen');
  ready(uws.us_socket_local_port(token), { mode, fanout: mode === 'publish' ? 'app.publish' : undefined });
});
