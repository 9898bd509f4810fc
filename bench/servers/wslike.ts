// A server written against the `ws` package's API, run with either `ws` or Wavecast (which exposes the
// same API). Usage: node wslike.js <module> <mode> [http], where module is `ws` or `wavecast` and mode is
// one of echo | deflate | broadcast | publish; with `http` the server is `new WebSocketServer({ server })`
// on a node:http server (as the relay runs), else `new WebSocketServer({ port })`. The code is exactly
// what a user of either package would write.
import { createServer, type Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { installControl, parseMode, ready, unsupported, TOPIC } from './control.js';

type Data = Buffer | ArrayBuffer | Buffer[];
interface Socket {
  send(data: Data, options?: { binary?: boolean }): void;
  on(event: 'message', listener: (data: Data, isBinary: boolean) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  subscribe?: (topic: string) => void;
}
interface Server {
  clients: Set<Socket>;
  address(): { port: number } | string | null;
  on(event: 'connection', listener: (socket: Socket) => void): void;
  on(event: 'listening', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  publish?: (topic: string, data: Data, options?: { binary?: boolean }) => void;
}
interface ServerModule {
  WebSocketServer?: new (options: Record<string, unknown>) => Server;
}

installControl();
const moduleName = process.argv[2] ?? 'ws';
const mode = parseMode(process.argv[3]);
const onHttp = process.argv[4] === 'http';

const mod = (await import(moduleName)) as ServerModule;
const WebSocketServer = mod.WebSocketServer;
if (typeof WebSocketServer !== 'function') unsupported(`${moduleName} does not export WebSocketServer`);

const info: Record<string, unknown> = { module: moduleName, mode, ...(onHttp ? { server: 'node:http' } : {}) };
if (moduleName === 'ws') {
  const require = createRequire(import.meta.url);
  let bufferutil = false;
  try {
    require('bufferutil');
    bufferutil = !process.env.WS_NO_BUFFER_UTIL;
  } catch {
    // not installed: plain ws
  }
  info.bufferutil = bufferutil;
}

const deflate = mode === 'deflate' ? { perMessageDeflate: true } : {};
const httpServer: HttpServer | null = onHttp ? createServer() : null;
const wss = new WebSocketServer(httpServer ? { server: httpServer, ...deflate } : { port: 0, ...deflate });

// Wavecast's native fan-out; `ws` has none, so in publish mode it runs the loop over `clients` that the
// `ws` docs show (the same code as broadcast), which is what the publish targets are measured against.
const nativePublish = typeof wss.publish === 'function';
if (mode === 'publish') {
  if (!nativePublish && moduleName !== 'ws') unsupported(`${moduleName}: wss.publish is not available`);
  info.fanout = nativePublish ? 'wss.publish' : 'clients.forEach';
}

wss.on('connection', (socket) => {
  socket.on('error', () => {});
  switch (mode) {
    case 'echo':
    case 'deflate':
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      break;
    case 'broadcast':
      socket.on('message', (data, isBinary) => {
        wss.clients.forEach((client) => client.send(data, { binary: isBinary }));
      });
      break;
    case 'publish':
      if (nativePublish) {
        if (typeof socket.subscribe !== 'function') unsupported(`${moduleName}: socket.subscribe is not available`);
        socket.subscribe(TOPIC);
        socket.on('message', (data, isBinary) => wss.publish!(TOPIC, data, { binary: isBinary }));
      } else {
        socket.on('message', (data, isBinary) => {
          wss.clients.forEach((client) => client.send(data, { binary: isBinary }));
        });
      }
      break;
  }
});

wss.on('error', (err) => {
  throw err;
});

const listening = (address: { port: number } | string | null) => {
  if (address === null || typeof address === 'string') throw new Error('server has no TCP port');
  ready(address.port, info);
};
if (httpServer) httpServer.listen(0, '127.0.0.1', () => listening(httpServer.address()));
else wss.on('listening', () => listening(wss.address()));
