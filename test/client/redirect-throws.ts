// Run by ws-compat.test.ts as `node redirect-throws.js ws|wavecast`: a 'redirect' listener throws, and the
// process says where the exception went. Exits on its own.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Ws from 'ws';
import Wavecast from '../../src/index.js';

const WebSocket = (process.argv[2] === 'ws' ? Ws : Wavecast) as typeof Ws;
const server = createServer();
server.on('upgrade', (_request, socket) => socket.end('HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n'));
server.listen(0, '127.0.0.1', () => {
  process.once('uncaughtException', (error) => {
    console.log(`uncaught: ${error.message}`);
    process.exit(0);
  });
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, { followRedirects: true });
  client.on('error', (error) => {
    console.log(`error event: ${error.message}`);
    process.exit(0);
  });
  client.on('redirect', () => {
    throw new Error('thrown by the listener');
  });
});
