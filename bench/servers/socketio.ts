// Socket.IO 4 doing the relay's job with rooms: a client names its room in the handshake's query
// (`?room=...`), joins it, and every `msg` event it emits goes to every client of the room, itself
// included (`io.to(room).emit`), as `wavecast serve` does for a channel. The websocket transport only
// (no long-polling first), no per-message compression (Socket.IO's default), its default buffer sizes.
// Usage: node socketio.js
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { installControl, ready } from './control.js';

installControl();
const require = createRequire(import.meta.url);
const version = (require('socket.io/package.json') as { version: string }).version;

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  const room = String(socket.handshake.query.room ?? '');
  void socket.join(room);
  socket.on('msg', (data: unknown) => {
    io.to(room).emit('msg', data);
  });
});
http.listen(0, '127.0.0.1', () => {
  ready((http.address() as AddressInfo).port, { version, fanout: 'io.to(room).emit' });
});
