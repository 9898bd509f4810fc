// The public WebSocket class: the connection (connection/websocket.ts) with the client's constructor.
// `new WebSocket('ws://...')` starts the opening handshake (connect.ts); `new WebSocket(null)`, which is
// how a WebSocketServer makes the connections it accepts, makes one that waits for the server's socket.
import type { ClientRequestArgs } from 'node:http';
import { WebSocket as Connection } from '../connection/websocket.js';
import type { ClientOptions } from './client-options.js';
import { connect } from './connect.js';

// No fields of its own: an instance is exactly a connection, so a server's socket made with this class
// costs what one made with the base class does, and either type is assignable to the other.
export class WebSocket extends Connection {
  constructor(address: null, protocols?: undefined, options?: unknown);
  constructor(address: string | URL, options?: ClientOptions | ClientRequestArgs);
  constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions | ClientRequestArgs);
  constructor(address: string | URL | null, protocols?: unknown, options?: unknown) {
    super();
    if (address !== null) connect(this, address, protocols, options);
  }
}

// The ready-state constants, own read-only enumerable values of the class and of its prototype, as WebIDL
// and `ws` have them (otherwise they would be read through the base class).
for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value: Connection[name] });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value: Connection[name] });
}
